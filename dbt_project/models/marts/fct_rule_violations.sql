-- Every broken validation rule per transaction (blocking and warning), with where the row came from.
select
    violations.rule_id,
    violations.severity,
    violations.message,
    inputs.transaction_id,
    inputs.source,
    inputs.account_id,
    inputs.booked_date,
    inputs.amount,
    inputs.currency,
    inputs.description_raw,
    inputs.source_file,
    inputs.source_row
from {{ ref('int_transactions__rule_violations') }} as violations
inner join {{ ref('int_transactions__rule_inputs') }} as inputs using (transaction_id)
