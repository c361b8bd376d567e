-- Within one match type a left item and a right row are each linked at most once (a deposit answers one payout,
-- a ledger line one bank line), and a row never appears both linked and unmatched.
with sides as (
    select match_type, 'left' as side, left_item_id as item_id, status
    from {{ ref('int_reconciliation__links') }}
    where left_item_id is not null
    union all
    select match_type, 'right', right_transaction_id, status
    from {{ ref('int_reconciliation__links') }}
    where right_transaction_id is not null
)

select match_type, side, item_id, count(*) as appearances, array_agg(status) as statuses
from sides
group by match_type, side, item_id
having count(*) > 1
