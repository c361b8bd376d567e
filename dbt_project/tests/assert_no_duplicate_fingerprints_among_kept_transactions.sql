{{ config(meta={'dagster': {'ref': {'name': 'int_transactions__validated'}}}) }}
-- The transactions that go to fct_transactions (not quarantined, no duplicate_of) never share a fingerprint:
-- a re-delivered row, even re-exported with changed bytes, is never kept twice.
select fingerprint, count(*) as kept_rows, array_agg(transaction_id order by transaction_id) as transaction_ids
from {{ ref('int_transactions__validated') }}
where validation_status <> 'quarantined' and duplicate_of is null
group by fingerprint
having count(*) > 1
