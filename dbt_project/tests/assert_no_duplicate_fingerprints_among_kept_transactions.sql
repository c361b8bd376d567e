{{ config(meta={'dagster': {'ref': {'name': 'int_transactions__validated'}}}) }}
-- The transactions that go to fct_transactions (not quarantined, no duplicate_of) never share a fingerprint:
-- a re-delivered row, even re-exported with changed bytes, is never kept twice.
-- Reads the fingerprints from their partial index (int_transactions__validated's ensure_index), in its order, and
-- only those of the kept rows validated since the invariants last passed: a repeat needs one of them (every
-- fingerprint in the nightly audit).
{%- set since = invariants_checked_through('validated_through') %}
with repeated as (
    select fingerprint
    from {{ ref('int_transactions__validated') }}
    where {{ kept_transaction() }}
    {%- if since != '-infinity' %}
        and fingerprint in (
            select fingerprint from {{ ref('int_transactions__validated') }}
            where validated_at > '{{ since }}'::timestamptz and {{ kept_transaction() }}
        )
    {%- endif %}
    group by fingerprint
    having count(*) > 1
)

select fingerprint, count(*) as kept_rows, array_agg(transaction_id order by transaction_id) as transaction_ids
from {{ ref('int_transactions__validated') }}
where {{ kept_transaction() }} and fingerprint in (select fingerprint from repeated)
group by fingerprint
