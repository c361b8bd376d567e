-- fct_reconciliation's rows without their ages: each reconciliation item (int_reconciliation__links) with the
-- validation status of its sides and, for processor payouts, the balance rows the payout pays out.
-- Incremental: a build redoes the link groups (match type, key, currency) relinked or holding a transaction
-- revalidated since its last build, and the groups of the processor payouts (whose parts may have changed); the
-- rest stay as they are.
-- The ages, which move with every new booking day, are added by the fct_reconciliation view.
-- Realized exchange difference of a processor payout (fx_difference, in the base currency): its charges, fees and
-- refunds at the payout day's rate minus the same rows at their own booking days' rates (macros/fx.sql). A payout
-- spanning a rate change matches its deposit in the transaction currency and reports the difference here, judged
-- against fx_tolerance_pct of seeds/reconciliation_tolerances.csv (fx_within_tolerance) instead of counting as a
-- mismatch.
-- depends_on: {{ ref('int_transactions__validated') }} (read by incremental builds only)
{{ config(
    schema='reconciliation',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['match_type', 'match_key', 'currency'],
    on_schema_change='append_new_columns',
    indexes=[{'columns': ['match_type', 'match_key', 'currency']}, {'columns': ['itemized_at']}],
    pre_hook="set local work_mem = '64MB'",
    post_hook="{{ analyze_after_build('itemized_at') }}",
) }}
with
{%- if is_incremental() %}
changed_transactions as (
    select transaction_id from {{ ref('int_transactions__validated') }}
    where {{ changed_since_last_build('validated_at', 'itemized_at') }}
    union
    -- every payout: its parts can change without a row of its own doing so (a charge turned duplicate leaves its
    -- batch), and there are only a few a day
    select transaction_id from {{ ref('int_payouts__daily') }}
),

changed_groups as (
    select distinct match_type, match_key, currency
    from {{ ref('int_reconciliation__links') }}
    where {{ changed_since_last_build('linked_at', 'itemized_at') }}
        or left_transaction_id in (select transaction_id from changed_transactions)
        or right_transaction_id in (select transaction_id from changed_transactions)
),
{%- endif %}

links as (
    select * from {{ ref('int_reconciliation__links') }}
    {%- if is_incremental() %}
    where (match_type, match_key, currency) in (select match_type, match_key, currency from changed_groups)
    {%- endif %}
),

statuses as (
    -- the validation status of the (few) rows that broke a rule; every other row is valid
    select
        transaction_id,
        case when bool_or(severity = 'blocking') then 'quarantined' else 'valid_with_warnings' end
            as validation_status
    from {{ ref('int_transactions__rule_violations') }}
    group by transaction_id
),

batches as (
    -- what a processor payout pays out: the balance rows of its batch (one-to-many), net of fees
    select
        source,
        batch_key,
        sum(component_count)::bigint as component_count,
        sum(component_net_amount) as component_net_amount,
        sum(component_net_amount_base) as component_net_amount_base
    from {{ ref('int_payout_components__daily') }}
    group by source, batch_key
),

payout_batches as (
    select transaction_id, source, batch_key, day_batch_key as day_key
    from {{ ref('int_payouts__daily') }}
),

components as (
    select
        payout_batches.transaction_id,
        coalesce(by_key.component_count, by_day.component_count) as component_count,
        coalesce(by_key.component_net_amount, by_day.component_net_amount) as component_net_amount,
        case when by_key.batch_key is not null then by_key.component_net_amount_base
            else by_day.component_net_amount_base end as component_net_amount_base
    from payout_batches
    left join batches as by_key
        on by_key.source = payout_batches.source and by_key.batch_key = payout_batches.batch_key
    left join batches as by_day
        on by_day.source = payout_batches.source and by_day.batch_key = payout_batches.day_key
)

select
    links.reconciliation_id,
    links.match_type,
    links.status,
    links.match_key,
    links.currency,
    links.left_transaction_id,
    links.left_source,
    links.left_account_id,
    links.left_booked_date,
    links.left_amount,
    links.left_description,
    case when links.left_transaction_id is not null then coalesce(left_statuses.validation_status, 'valid') end
        as left_validation_status,
    links.right_transaction_id,
    links.right_source,
    links.right_account_id,
    links.right_booked_date,
    links.right_amount,
    links.right_description,
    case when links.right_transaction_id is not null then coalesce(right_statuses.validation_status, 'valid') end
        as right_validation_status,
    links.expected_amount,
    links.amount_difference,
    links.days_apart,
    case
        when links.match_type = 'payroll_run' then links.left_items
        else components.component_count
    end as component_count,
    case
        when links.match_type = 'payroll_run' then links.left_amount
        else components.component_net_amount
    end as component_amount,
    case
        when links.match_type = 'payroll_run' then 0
        else links.expected_amount - components.component_net_amount
    end as component_difference,
    round(links.expected_amount * payout_rate.rate_to_base, 2) as expected_amount_base,
    round(components.component_net_amount_base, 2) as component_amount_base,
    round(components.component_net_amount * payout_rate.rate_to_base - components.component_net_amount_base, 2)
        as fx_difference,
    abs(components.component_net_amount * payout_rate.rate_to_base - components.component_net_amount_base)
        <= tolerances.fx_tolerance_pct * abs(links.expected_amount * payout_rate.rate_to_base) as fx_within_tolerance,
    links.duplicate_transaction_id,
    links.duplicate_of,
    links.left_source_file,
    links.left_source_row,
    links.left_source_transaction_id,
    links.right_source_file,
    links.right_source_row,
    links.right_source_transaction_id,
    now() as itemized_at
from links
left join components on components.transaction_id = links.left_transaction_id
left join {{ ref('reconciliation_tolerances') }} as tolerances on tolerances.match_type = links.match_type
left join lateral (
    select {{ rate_to_base('links.currency', 'links.left_booked_date') }} as rate_to_base
) as payout_rate on links.left_booked_date is not null
left join statuses as left_statuses on left_statuses.transaction_id = links.left_transaction_id
left join statuses as right_statuses on right_statuses.transaction_id = links.right_transaction_id
