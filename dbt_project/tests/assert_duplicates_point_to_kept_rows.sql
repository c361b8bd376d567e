{{ config(meta={'dagster': {'ref': {'name': 'int_transactions__validated'}}}) }}
-- Every duplicate_of names a row that exists and is not itself a duplicate (chains such as ledger line -> bank
-- deposit -> Stripe payout, or a re-delivered echo, resolve to their end), and no row is its own duplicate.
select
    duplicates.transaction_id,
    duplicates.duplicate_of,
    duplicates.duplicate_reason,
    targets.duplicate_of as target_duplicate_of
from {{ ref('int_transactions__validated') }} as duplicates
left join {{ ref('int_transactions__validated') }} as targets
    on targets.transaction_id = duplicates.duplicate_of
where duplicates.duplicate_of is not null
    and (
        targets.transaction_id is null
        or targets.duplicate_of is not null
        or duplicates.duplicate_of = duplicates.transaction_id
    )
