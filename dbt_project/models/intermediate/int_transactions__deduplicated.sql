-- Every distinct source row once, with duplicate_of set on every row that is not a transaction of its own:
--   * exact re-deliveries (the same source row landed again in another file or API page) collapse to their first
--     landing (int_transactions__delivered.delivery_rank = 1) and are not listed here;
--   * re-deliveries that are not identical (same fingerprint from a later load) point at the first landing;
--   * echoes, the same real payment seen by a second system (the bank deposit of a processor payout, the bank line
--     of an invoice payment, the incoming side of an internal transfer, the ledger line mirroring a bank line),
--     point at the row that represents the payment, found by the reconciliation links
--     (int_reconciliation__links, tolerances in seeds/reconciliation_tolerances.csv). A chain such as
--     ledger line -> bank deposit -> Stripe payout resolves to its end (and so does a re-delivered echo):
--     duplicate_of always names a row that is not itself a duplicate.
-- duplicate_reason says which: 'redelivery' or the match type of the link.
-- Incremental: a build redoes the rows whose delivery changed, the rows in relinked reconciliation groups, the rows
-- whose echo chain passes through one of those, and the re-deliveries of all of them.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='transaction_id',
    indexes=[{'columns': ['transaction_id']}, {'columns': ['source', 'source_file']}, {'columns': ['deduplicated_at']}],
    post_hook="{{ analyze_after_build('deduplicated_at') }}",
) }}
{%- set links = ref('int_reconciliation__links') %}
with
{%- if is_incremental() %}

changed as (
    select transaction_id from {{ ref('int_transactions__delivered') }}
    where {{ changed_since_last_build('delivered_at', 'deduplicated_at') }}
    union
    select left_transaction_id from {{ links }}
    where {{ changed_since_last_build('linked_at', 'deduplicated_at') }} and left_transaction_id is not null
    union
    select right_transaction_id from {{ links }}
    where {{ changed_since_last_build('linked_at', 'deduplicated_at') }} and right_transaction_id is not null
),

chained as (
    -- a chain resolves over at most three links: its rows hang at most two links below a changed one (any link
    -- counts here: taking in a row whose chosen parent is another one only recomputes it)
    select transaction_id from changed
    union
    select child.duplicate_transaction_id
    from {{ links }} as child inner join changed on changed.transaction_id = child.duplicate_of
    union
    select grandchild.duplicate_transaction_id
    from {{ links }} as grandchild
    inner join {{ links }} as child on child.duplicate_transaction_id = grandchild.duplicate_of
    inner join changed on changed.transaction_id = child.duplicate_of
),

affected as (
    select transaction_id from chained
    union
    select redelivery.transaction_id
    from {{ ref('int_transactions__delivered') }} as redelivery
    inner join chained on chained.transaction_id = redelivery.redelivery_of
),
{%- endif %}

delivered as (
    select * from {{ ref('int_transactions__delivered') }}
    where delivery_rank = 1
    {%- if is_incremental() %}
        and transaction_id in (select transaction_id from affected)
    {%- endif %}
),
{%- if is_incremental() %}

resolved as (
    -- a few rows: follow each one's chain by index lookups instead of resolving every link in history
    select
        start.transaction_id,
        first_link.match_type,
        coalesce(third_link.parent_id, second_link.parent_id, first_link.parent_id) as root_id
    from (
        select transaction_id from delivered
        union
        select redelivery_of from delivered where redelivery_of is not null
    ) as start
    cross join lateral ({{ echo_link_of(links, 'start.transaction_id') }}) as first_link
    left join lateral ({{ echo_link_of(links, 'first_link.parent_id') }}) as second_link on true
    left join lateral ({{ echo_link_of(links, 'second_link.parent_id') }}) as third_link on true
)
{%- else %}

echo_links as (
    select distinct on (duplicate_transaction_id)
        duplicate_transaction_id as transaction_id,
        duplicate_of as parent_id,
        match_type
    from {{ links }}
    where duplicate_transaction_id is not null and duplicate_of is not null
    order by duplicate_transaction_id, match_type, duplicate_of
),

resolved as (
    select
        first_link.transaction_id,
        first_link.match_type,
        coalesce(third_link.parent_id, second_link.parent_id, first_link.parent_id) as root_id
    from echo_links as first_link
    left join echo_links as second_link on second_link.transaction_id = first_link.parent_id
    left join echo_links as third_link on third_link.transaction_id = second_link.parent_id
)
{%- endif %}

select
    delivered.*,
    case
        -- a re-delivery of an echo is a duplicate of what the echo duplicates
        when delivered.redelivery_of is not null then coalesce(original.root_id, delivered.redelivery_of)
        else resolved.root_id
    end as duplicate_of,
    case
        when delivered.redelivery_of is not null then 'redelivery'
        else resolved.match_type
    end as duplicate_reason,
    now() as deduplicated_at
from delivered
left join resolved on resolved.transaction_id = delivered.transaction_id
left join resolved as original on original.transaction_id = delivered.redelivery_of
