{{ config(meta={'dagster': {'ref': {'name': 'int_transactions__validated'}}}) }}
-- The transactions that go to fct_transactions (not quarantined, no duplicate_of) never share a fingerprint:
-- a re-delivered row, even re-exported with changed bytes, is never kept twice.
-- Reads the fingerprints from their partial index (int_transactions__validated's ensure_index), in its order.
with repeated as (
    select fingerprint
    from {{ ref('int_transactions__validated') }}
    where {{ kept_transaction() }}
    group by fingerprint
    having count(*) > 1
)

select fingerprint, count(*) as kept_rows, array_agg(transaction_id order by transaction_id) as transaction_ids
from {{ ref('int_transactions__validated') }}
where {{ kept_transaction() }} and fingerprint in (select fingerprint from repeated)
group by fingerprint
