-- The reconciliation report: one row per reconciliation item (see int_reconciliation__links for the match types and
-- seeds/reconciliation_tolerances.csv for the tolerances), with its status, amount difference and age.
-- Ages count days up to as_of_date, the latest booked date among valid transactions, so a rebuild over the same data
-- gives the same figures whatever day it runs. A view: the items are kept incrementally (int_reconciliation__items)
-- and only the ages, which every new booking day moves, are computed when it is read.
-- A reviewer may link an unmatched item with its left side to an unmatched item with only a right side (review
-- workspace; a 'link' decision in review.effective_decisions): the pair reads as one matched item (linked_by names
-- the reviewer) and the right item is no longer listed. Being a view, a link or its undo shows at once.
{{ config(materialized='view') }}
{%- set right_columns = ['transaction_id', 'source', 'account_id', 'booked_date', 'amount', 'description',
    'validation_status', 'source_file', 'source_row', 'source_transaction_id'] %}
with manual_links as (
    select distinct on (item_id) item_id as left_item, link_to as right_item, reviewer
    from {{ source('review', 'effective_decisions') }}
    where item_type = 'reconciliation' and decision = 'link'
    order by item_id, decision_id desc
),

links as (
    -- only between the sides the link names, both still unmatched
    select manual_links.left_item, manual_links.reviewer, counterpart.*
    from manual_links
    join {{ ref('int_reconciliation__items') }} as linked
        on linked.reconciliation_id = manual_links.left_item
        and linked.status = 'unmatched' and linked.left_transaction_id is not null
    join {{ ref('int_reconciliation__items') }} as counterpart
        on counterpart.reconciliation_id = manual_links.right_item
        and counterpart.status = 'unmatched' and counterpart.left_transaction_id is null
),

as_of as (
    -- the newest booking day, read backwards through int_transactions__validated's booked_date index
    select max(booked_date) as as_of_date
    from {{ ref('int_transactions__validated') }}
    where validation_status <> 'quarantined'
)

select
    items.reconciliation_id,
    items.match_type,
    case when links.left_item is not null then 'matched' else items.status end as status,
    items.match_key,
    items.currency,
    items.left_transaction_id,
    items.left_source,
    items.left_account_id,
    items.left_booked_date,
    items.left_amount,
    items.left_description,
    items.left_validation_status,
    {%- for column in right_columns if column not in ('source_file', 'source_row', 'source_transaction_id') %}
    coalesce(items.right_{{ column }}, links.right_{{ column }}) as right_{{ column }},
    {%- endfor %}
    items.expected_amount,
    coalesce(items.amount_difference, links.right_amount - items.expected_amount) as amount_difference,
    coalesce(items.days_apart, links.right_booked_date - items.left_booked_date) as days_apart,
    as_of.as_of_date,
    as_of.as_of_date - coalesce(items.left_booked_date, items.right_booked_date) as age_days,
    items.status = 'unmatched' and links.left_item is null
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
    {%- for column in ('source_file', 'source_row', 'source_transaction_id') %}
    coalesce(items.right_{{ column }}, links.right_{{ column }}) as right_{{ column }},
    {%- endfor %}
    'review:' || links.reviewer as linked_by
from {{ ref('int_reconciliation__items') }} as items
cross join as_of
left join {{ ref('reconciliation_tolerances') }} as tolerances using (match_type)
left join links on links.left_item = items.reconciliation_id
where items.reconciliation_id not in (select links.reconciliation_id from links)
