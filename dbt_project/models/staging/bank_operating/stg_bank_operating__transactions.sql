-- Main operating account CSV: the parser already applied debit -> negative, credit -> positive.
{{ stage_transactions('bank_operating', default_account="'operating'", default_currency="'USD'") }}
