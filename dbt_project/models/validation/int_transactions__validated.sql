-- Every deduplicated transaction with its validation outcome: quarantined (a blocking rule failed),
-- valid_with_warnings (only warnings) or valid, and the ids of the rules it broke. The rules are the rows of
-- seeds/validation_rules.csv, each condition true for a transaction that breaks it.
-- Incremental: a build validates the rule inputs rebuilt since its last build; a change to the rules seed
-- revalidates every transaction (rules_version). Conditions that read the clock (date_not_in_future) are judged
-- when the row is validated.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='transaction_id',
    indexes=[{'columns': ['transaction_id']}, {'columns': ['validated_at']}],
    post_hook=[
        "{{ ensure_index('booked_date') }}",
        "{{ ensure_index('fingerprint', where=kept_transaction()) }}",
        "{{ ensure_index('transaction_id, booked_date', where=kept_transaction()) }}",
        "{{ ensure_index('duplicate_of', where='duplicate_of is not null') }}",
        "{{ analyze_after_build('validated_at') }}",
    ],
) }}
{%- set rules = [] -%}
{%- if execute -%}
    {%- set rules = run_query(
        "select rule_id, severity, condition from " ~ ref('validation_rules') ~ " where enabled order by rule_id"
    ).rows -%}
{%- endif %}
{%- set rules_version = seed_version(ref('validation_rules')) %}
{%- set everything = recompute_everything('rules_version', rules_version) %}

with inputs as (
    select * from {{ ref('int_transactions__rule_inputs') }}
    {%- if not everything %}
    where {{ changed_since_last_build('inputs_at', 'validated_at') }}
    {%- endif %}
),

violations as (
    {% for rule in rules %}
    select transaction_id, '{{ rule["rule_id"] }}'::text as rule_id, '{{ rule["severity"] }}'::text as severity
    from inputs
    where coalesce(({{ rule["condition"] }}), false)
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not rules %}
    select null::text as transaction_id, null::text as rule_id, null::text as severity
    where false
    {% endif %}
),

outcomes as (
    select
        transaction_id,
        bool_or(severity = 'blocking') as has_blocking,
        array_agg(rule_id order by rule_id) filter (where severity = 'blocking') as blocking_rules,
        array_agg(rule_id order by rule_id) filter (where severity = 'warning') as warning_rules
    from violations
    group by transaction_id
)

select
    inputs.*,
    case
        when outcomes.has_blocking then 'quarantined'
        when outcomes.warning_rules is not null then 'valid_with_warnings'
        else 'valid'
    end as validation_status,
    outcomes.blocking_rules,
    outcomes.warning_rules,
    '{{ rules_version }}'::text as rules_version,
    now() as validated_at
from inputs
left join outcomes using (transaction_id)
