-- Transactions held back by a blocking validation rule, with every reason, for review and correction.
with violations as (
    select transaction_id, string_agg(rule_id || ': ' || message, '; ' order by rule_id) as reasons
    from {{ ref('int_transactions__rule_violations') }}
    where severity = 'blocking'
    group by transaction_id
)

select
    validated.transaction_id,
    validated.source,
    validated.account_id,
    validated.booked_date,
    validated.amount,
    validated.amount_delivered,
    validated.currency,
    validated.description_raw,
    validated.blocking_rules,
    violations.reasons,
    validated.source_file,
    validated.source_row,
    validated.load_id
from {{ ref('int_transactions__validated') }} as validated
inner join violations using (transaction_id)
