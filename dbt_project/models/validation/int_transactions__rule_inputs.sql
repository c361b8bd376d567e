-- What validation rule conditions can refer to: every deduplicated transaction plus derived helper columns.
-- A rule that needs a new fact (a gap, a sum, a lookup) gets a column here and a row in seeds/validation_rules.csv.
-- Incremental: a build redoes the changed rows, and in a balance-continuity partition (statement file and account)
-- the row after each changed one, since a row's gap reads the row before it. The gaps are computed over the whole
-- partition but only those rows are written: a bank deposit in a month-long statement that gets linked to a new
-- payout rewrites two rows, not the statement's 2,000. A helper column computed over a group of rows widens `redo`
-- to the rows whose value can change.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='transaction_id',
    indexes=[{'columns': ['transaction_id']}, {'columns': ['inputs_at']}],
    post_hook="{{ analyze_after_build('inputs_at') }}",
) }}
{%- set deduplicated = ref('int_transactions__deduplicated') %}
{#- what landing decided about corrected re-deliveries (finflow_assets/sources/redeliveries.py), per transaction -#}
{%- set superseded = 'raw._superseded' %}
with
{%- if is_incremental() %}
changed as (
    select transaction_id, source, source_file from {{ deduplicated }}
    where {{ changed_since_last_build('deduplicated_at', 'inputs_at') }}
    union
    -- rows a later delivery superseded or put in conflict, or a reviewer's decision settled (written outside dbt)
    select deduplicated.transaction_id, deduplicated.source, deduplicated.source_file
    from {{ superseded }} as superseded
    inner join {{ deduplicated }} as deduplicated on deduplicated.transaction_id = superseded.transaction_id
    where {{ changed_since_last_build('superseded.recorded_at', 'inputs_at', var('late_arrival_window')) }}
),

balance_partitions as (
    select distinct source, source_file, account_id
    from {{ deduplicated }}
    where balance_after is not null and (source, source_file) in (select source, source_file from changed)
),

-- every row of those partitions (their gaps need the rows before them), marked where the row before is a changed one
partition_rows as (
    select
        deduplicated.transaction_id,
        lag(deduplicated.transaction_id in (select transaction_id from changed)) over (
            partition by deduplicated.source, deduplicated.source_file, deduplicated.account_id
            order by deduplicated.source_row
        ) as follows_changed
    from {{ deduplicated }} as deduplicated
    inner join balance_partitions
        on balance_partitions.source = deduplicated.source
        and balance_partitions.source_file = deduplicated.source_file
        and balance_partitions.account_id is not distinct from deduplicated.account_id
),

redo as (
    select transaction_id from changed
    union
    select transaction_id from partition_rows where follows_changed
),
{%- endif %}

transactions as (
    select * from {{ deduplicated }}
    {%- if is_incremental() %}
    where transaction_id in (select transaction_id from changed union all select transaction_id from partition_rows)
    {%- endif %}
),

fx as (
    select * from {{ ref('fx_rates') }}
),

amount_limits as (
    select * from {{ ref('amount_limits') }}
),

inputs as (
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
        -- the largest plausible single amount for the account (seeds/amount_limits.csv; '*' is every account's)
        coalesce(account_limit.max_abs_amount_base, default_limit.max_abs_amount_base) as amount_limit_base,
        -- a later delivery of the same account and period replaced this line (superseded) or differs from it
        -- without balances that check (held: the later line waits for a reviewer; disputed: the earlier one counts)
        superseded.status as redelivery_status,
        superseded.reason as redelivery_reason,
        now() as inputs_at
    from transactions
    left join fx on fx.currency = transactions.currency
    left join amount_limits as account_limit on account_limit.account_id = transactions.account_id
    left join amount_limits as default_limit on default_limit.account_id = '*'
    left join {{ superseded }} as superseded on superseded.transaction_id = transactions.transaction_id
)

select * from inputs
{%- if is_incremental() %}
where transaction_id in (select transaction_id from redo)
{%- endif %}
