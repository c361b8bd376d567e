-- Corporate cards (expenses_json): the parser already applied the sign convention (+ in, - out).
{{ stage_transactions('expenses', default_account="'expenses'") }}
