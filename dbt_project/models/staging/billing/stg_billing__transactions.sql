-- Invoicing and receipts (AR) (billing_json): the parser already applied the sign convention (+ in, - out).
{{ stage_transactions('billing', default_account="'billing'") }}
