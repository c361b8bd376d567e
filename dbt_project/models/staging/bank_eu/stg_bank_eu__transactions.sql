-- EUR account (mt940): the parser already applied the sign convention (+ in, - out).
{{ stage_transactions('bank_eu', default_account="'bank_eu'") }}
