-- What validation rule conditions can refer to: every deduplicated transaction plus derived helper columns.
-- A rule that needs a new fact (a gap, a sum, a lookup) gets a column here and a row in seeds/validation_rules.csv.
-- Incremental: balance continuity runs over a whole statement file, so a build redoes every file with a changed row.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='transaction_id',
    indexes=[{'columns': ['transaction_id']}, {'columns': ['inputs_at']}],
) }}
with transactions as (
    select * from {{ ref('int_transactions__deduplicated') }}
    {%- if is_incremental() %}
    where (source, source_file) in (
        select source, source_file from {{ ref('int_transactions__deduplicated') }}
        where {{ changed_since_last_build('deduplicated_at', 'inputs_at') }}
    )
    {%- endif %}
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
    end as type_direction,
    now() as inputs_at
from transactions
left join fx on fx.currency = transactions.currency
