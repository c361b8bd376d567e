-- General ledger (bank_csv): the parser already applied the sign convention (+ in, - out).
{{ stage_transactions('erp_gl', default_account="'erp_gl'") }}
