-- Treasury account (camt053): the parser already applied the sign convention (+ in, - out).
{{ stage_transactions('bank_treasury', default_account="'bank_treasury'") }}
