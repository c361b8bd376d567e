-- Card payments (Stripe) (stripe_json): the parser already applied the sign convention (+ in, - out).
{{ stage_transactions('stripe', default_account="'stripe'") }}
