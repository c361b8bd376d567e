-- The analysts' categorization rules (seeds/categorization_rules.csv) applied before the ML model: per transaction
-- the matching rule with the lowest priority number wins; category is null where no rule matches. Every validated
-- row gets one (duplicates and quarantined rows too: what reads it keeps to the transactions it keeps).
-- Incremental: a build categorizes the transactions validated since its last build; a change to the rules seed
-- recategorizes every transaction (rules_version).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='transaction_id',
    indexes=[{'columns': ['transaction_id']}, {'columns': ['categorized_at']}],
    post_hook="{{ analyze_after_build('categorized_at') }}",
) }}
{%- set rules_version = seed_version(ref('categorization_rules')) %}
{%- set everything = recompute_everything('rules_version', rules_version) %}
with transactions as (
    select transaction_id, source, transaction_type, description_raw, counterparty_raw
    from {{ ref('int_transactions__validated') }}
    {%- if not everything %}
    where {{ changed_since_last_build('validated_at', 'categorized_at') }}
    {%- endif %}
),

rules as (
    select * from {{ ref('categorization_rules') }}
)

select distinct on (transactions.transaction_id)
    transactions.transaction_id,
    rules.category,
    rules.rule_id as category_rule_id,
    '{{ rules_version }}'::text as rules_version,
    now() as categorized_at
from transactions
left join rules
    on (rules.source is null or rules.source = transactions.source)
    and (rules.transaction_type is null or lower(rules.transaction_type) = lower(transactions.transaction_type))
    and (rules.pattern is null or concat_ws(' ', transactions.description_raw, transactions.counterparty_raw) ~* rules.pattern)
order by transactions.transaction_id, rules.priority, rules.rule_id
