-- The analysts' categorization rules (seeds/categorization_rules.csv) applied before the ML model:
-- per transaction the matching rule with the lowest priority number wins.
with transactions as (
    select transaction_id, source, transaction_type, description_raw, counterparty_raw
    from {{ ref('int_transactions__validated') }}
    where validation_status <> 'quarantined' and duplicate_of is null
),

rules as (
    select * from {{ ref('categorization_rules') }}
)

select distinct on (transactions.transaction_id)
    transactions.transaction_id,
    rules.category,
    rules.rule_id as category_rule_id
from transactions
inner join rules
    on (rules.source is null or rules.source = transactions.source)
    and (rules.transaction_type is null or lower(rules.transaction_type) = lower(transactions.transaction_type))
    and (rules.pattern is null or concat_ws(' ', transactions.description_raw, transactions.counterparty_raw) ~* rules.pattern)
order by transactions.transaction_id, rules.priority, rules.rule_id
