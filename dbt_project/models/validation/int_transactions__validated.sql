-- Every deduplicated transaction with its validation outcome: quarantined (a blocking rule failed),
-- valid_with_warnings (only warnings) or valid, and the ids of the rules it broke.
with violations as (
    select
        transaction_id,
        bool_or(severity = 'blocking') as has_blocking,
        array_agg(rule_id order by rule_id) filter (where severity = 'blocking') as blocking_rules,
        array_agg(rule_id order by rule_id) filter (where severity = 'warning') as warning_rules
    from {{ ref('int_transactions__rule_violations') }}
    group by transaction_id
)

select
    inputs.*,
    case
        when violations.has_blocking then 'quarantined'
        when violations.warning_rules is not null then 'valid_with_warnings'
        else 'valid'
    end as validation_status,
    violations.blocking_rules,
    violations.warning_rules
from {{ ref('int_transactions__rule_inputs') }} as inputs
left join violations using (transaction_id)
