-- The reconciliation report: one row per reconciliation item (see int_reconciliation__links for the match types and
-- seeds/reconciliation_tolerances.csv for the tolerances), with its status, amount difference and age.
-- Ages count days up to as_of_date, the latest booked date among valid transactions, so a rebuild over the same data
-- gives the same figures whatever day it runs.
{{ config(pre_hook="set local work_mem = '64MB'") }}
with links as (
    select * from {{ ref('int_reconciliation__links') }}
),

tolerances as (
    select * from {{ ref('reconciliation_tolerances') }}
),

as_of as (
    select max(booked_date) as as_of_date
    from {{ ref('int_transactions__validated') }}
    where validation_status <> 'quarantined'
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
        sum(component_net_amount) as component_net_amount
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
        coalesce(by_key.component_net_amount, by_day.component_net_amount) as component_net_amount
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
    as_of.as_of_date,
    as_of.as_of_date - coalesce(links.left_booked_date, links.right_booked_date) as age_days,
    links.status = 'unmatched'
    and as_of.as_of_date - coalesce(links.left_booked_date, links.right_booked_date) <= case
        when links.left_booked_date is not null then tolerances.days_after else tolerances.days_before
    end as within_window,
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
    links.duplicate_transaction_id,
    links.duplicate_of,
    links.left_source_file,
    links.left_source_row,
    links.left_source_transaction_id,
    links.right_source_file,
    links.right_source_row,
    links.right_source_transaction_id
from links
cross join as_of
left join tolerances using (match_type)
left join components on components.transaction_id = links.left_transaction_id
left join statuses as left_statuses on left_statuses.transaction_id = links.left_transaction_id
left join statuses as right_statuses on right_statuses.transaction_id = links.right_transaction_id
