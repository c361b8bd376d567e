-- Card payments EU (Adyen) (adyen_settlement_csv): the parser already applied the sign convention (+ in, - out).
{{ stage_transactions('adyen', default_account="'adyen'") }}
