-- Every broken validation rule per transaction (blocking and warning), with where the row came from.
select
    rule_id,
    severity,
    message,
    transaction_id,
    source,
    account_id,
    booked_date,
    amount,
    currency,
    description_raw,
    source_file,
    source_row
from {{ ref('int_transactions__rule_violations') }}
