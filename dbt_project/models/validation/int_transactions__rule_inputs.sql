-- What validation rule conditions can refer to: every deduplicated transaction plus derived helper columns.
-- A rule that needs a new fact (a gap, a sum, a lookup) gets a column here and a row in seeds/validation_rules.csv.
with transactions as (
    select * from {{ ref('int_transactions__deduplicated') }}
),

fx as (
    select * from {{ ref('fx_rates') }}
)

select
    transactions.*,
    fx.rate_to_base,
    -- running-balance continuity within one statement file: previous balance + amount = this balance
    transactions.balance_after - transactions.amount - lag(transactions.balance_after) over (
        partition by transactions.source, transactions.source_file, transactions.account_id
        order by transactions.source_row
    ) as balance_gap,
    -- the direction the source's own type code implies, where it implies one
    case
        when lower(transactions.transaction_type) in ('debit', 'dbit', 'payout', 'stripe_fee', 'fee', 'refund', 'payment', 'check', 'atm', 'pos', 'directdebit')
            then 'out'
        when lower(transactions.transaction_type) in ('credit', 'crdt', 'charge', 'dep', 'deposit', 'int', 'div')
            then 'in'
    end as type_direction
from transactions
left join fx on fx.currency = transactions.currency
