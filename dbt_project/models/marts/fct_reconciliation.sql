-- The reconciliation report: one row per reconciliation item (see int_reconciliation__links for the match types and
-- seeds/reconciliation_tolerances.csv for the tolerances), with its status, amount difference and age.
-- Ages count days up to as_of_date, the latest booked date among valid transactions, so a rebuild over the same data
-- gives the same figures whatever day it runs. A view: the items are kept incrementally (int_reconciliation__items)
-- and only the ages, which every new booking day moves, are computed when it is read.
{{ config(materialized='view') }}
with as_of as (
    -- the newest booking day, read backwards through int_transactions__validated's booked_date index
    select max(booked_date) as as_of_date
    from {{ ref('int_transactions__validated') }}
    where validation_status <> 'quarantined'
)

select
    items.reconciliation_id,
    items.match_type,
    items.status,
    items.match_key,
    items.currency,
    items.left_transaction_id,
    items.left_source,
    items.left_account_id,
    items.left_booked_date,
    items.left_amount,
    items.left_description,
    items.left_validation_status,
    items.right_transaction_id,
    items.right_source,
    items.right_account_id,
    items.right_booked_date,
    items.right_amount,
    items.right_description,
    items.right_validation_status,
    items.expected_amount,
    items.amount_difference,
    items.days_apart,
    as_of.as_of_date,
    as_of.as_of_date - coalesce(items.left_booked_date, items.right_booked_date) as age_days,
    items.status = 'unmatched'
    and as_of.as_of_date - coalesce(items.left_booked_date, items.right_booked_date) <= case
        when items.left_booked_date is not null then tolerances.days_after else tolerances.days_before
    end as within_window,
    items.component_count,
    items.component_amount,
    items.component_difference,
    items.expected_amount_base,
    items.component_amount_base,
    items.fx_difference,
    items.fx_within_tolerance,
    items.duplicate_transaction_id,
    items.duplicate_of,
    items.left_source_file,
    items.left_source_row,
    items.left_source_transaction_id,
    items.right_source_file,
    items.right_source_row,
    items.right_source_transaction_id
from {{ ref('int_reconciliation__items') }} as items
cross join as_of
left join {{ ref('reconciliation_tolerances') }} as tolerances using (match_type)
