{{ config(materialized='view') }}
-- One row per (transaction, broken rule): the rule ids int_transactions__validated recorded, with the severity and
-- message of seeds/validation_rules.csv.
with broken as (
    select transaction_id, unnest(blocking_rules) as rule_id
    from {{ ref('int_transactions__validated') }}
    where blocking_rules is not null
    union all
    select transaction_id, unnest(warning_rules)
    from {{ ref('int_transactions__validated') }}
    where warning_rules is not null
)

select
    broken.transaction_id,
    broken.rule_id,
    rules.severity::text as severity,
    rules.message::text as message
from broken
inner join {{ ref('validation_rules') }} as rules using (rule_id)
