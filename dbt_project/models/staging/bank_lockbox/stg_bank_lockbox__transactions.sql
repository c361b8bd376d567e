-- Receivables lockbox (bai2): the parser already applied the sign convention (+ in, - out).
{{ stage_transactions('bank_lockbox', default_account="'bank_lockbox'") }}
