-- Payroll account (ofx): the parser already applied the sign convention (+ in, - out).
{{ stage_transactions('bank_payroll', default_account="'bank_payroll'") }}
