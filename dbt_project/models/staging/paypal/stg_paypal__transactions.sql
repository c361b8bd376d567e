-- Wallet payments (PayPal) (paypal_json): the parser already applied the sign convention (+ in, - out).
{{ stage_transactions('paypal', default_account="'paypal'") }}
