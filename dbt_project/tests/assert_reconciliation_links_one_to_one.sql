-- Within one match type a left item and a right row are each linked at most once (a deposit answers one payout,
-- a ledger line one bank line), and a row never appears both linked and unmatched.
-- An item's match key follows from its own content, so it belongs to one group (match type, key, currency) and
-- every link naming it is in that group: checking the groups the latest build rebuilt covers every change.
{%- set links = ref('int_reconciliation__links') %}
{%- set newest = newest_stamp(links, 'linked_at') %}
with latest as (
    select * from {{ links }} where linked_at = '{{ newest }}'::timestamptz
),

sides as (
    select match_type, 'left' as side, left_item_id as item_id, status
    from latest
    where left_item_id is not null
    union all
    select match_type, 'right', right_transaction_id, status
    from latest
    where right_transaction_id is not null
)

select match_type, side, item_id, count(*) as appearances, array_agg(status) as statuses
from sides
group by match_type, side, item_id
having count(*) > 1
