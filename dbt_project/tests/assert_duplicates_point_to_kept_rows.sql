{{ config(meta={'dagster': {'ref': {'name': 'int_transactions__validated'}}}) }}
-- Every duplicate_of names a row that exists and is not itself a duplicate (chains such as ledger line -> bank
-- deposit -> Stripe payout, or a re-delivered echo, resolve to their end), and no row is its own duplicate.
-- Checks the duplicates validated since the invariants last passed and the duplicates pointing at a row validated
-- since (through the duplicate_of index): only those can have broken it (every row in the nightly audit).
{%- set since = invariants_checked_through('validated_through') %}
with
{%- if since != '-infinity' %}
revalidated as (
    select transaction_id, duplicate_of from {{ ref('int_transactions__validated') }}
    where validated_at > '{{ since }}'::timestamptz
),

suspects as (
    select transaction_id from revalidated where duplicate_of is not null
    union
    select pointing.transaction_id
    from {{ ref('int_transactions__validated') }} as pointing
    where pointing.duplicate_of in (select transaction_id from revalidated)
),
{%- endif %}

duplicates as (
    select transaction_id, duplicate_of, duplicate_reason
    from {{ ref('int_transactions__validated') }}
    where duplicate_of is not null
    {%- if since != '-infinity' %}
        and transaction_id in (select transaction_id from suspects)
    {%- endif %}
)

select
    duplicates.transaction_id,
    duplicates.duplicate_of,
    duplicates.duplicate_reason,
    targets.duplicate_of as target_duplicate_of
from duplicates
left join {{ ref('int_transactions__validated') }} as targets
    on targets.transaction_id = duplicates.duplicate_of
where targets.transaction_id is null
    or targets.duplicate_of is not null
    or duplicates.duplicate_of = duplicates.transaction_id
