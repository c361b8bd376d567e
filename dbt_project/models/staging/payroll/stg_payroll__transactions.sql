-- Payroll runs (bank_csv): the parser already applied the sign convention (+ in, - out).
{{ stage_transactions('payroll', default_account="'payroll'") }}
