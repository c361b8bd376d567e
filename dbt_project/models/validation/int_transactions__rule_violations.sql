{{ config(materialized='view') }}
-- One row per (transaction, broken rule): the rule ids int_transactions__validated recorded, with the severity and
-- message of seeds/validation_rules.csv.
with broken as (
    -- one pass over the validated rows (most broke no rule)
    select transaction_id, unnest(coalesce(blocking_rules, '{}') || coalesce(warning_rules, '{}')) as rule_id
    from {{ ref('int_transactions__validated') }}
    where blocking_rules is not null or warning_rules is not null
)

select
    broken.transaction_id,
    broken.rule_id,
    rules.severity::text as severity,
    rules.message::text as message
from broken
inner join {{ ref('validation_rules') }} as rules using (rule_id)
