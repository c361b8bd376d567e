-- One row per (transaction, broken rule), generated from the rules in seeds/validation_rules.csv.
-- depends_on: {{ ref('validation_rules') }}
{%- set rules = [] -%}
{%- if execute -%}
    {%- set rules = run_query(
        "select rule_id, severity, message, condition from " ~ ref('validation_rules') ~ " where enabled order by rule_id"
    ).rows -%}
{%- endif %}

with inputs as (
    select * from {{ ref('int_transactions__rule_inputs') }}
)

{% for rule in rules %}
select
    transaction_id,
    '{{ rule["rule_id"] }}'::text as rule_id,
    '{{ rule["severity"] }}'::text as severity,
    {{ dbt.string_literal(rule["message"]) }}::text as message
from inputs
where coalesce(({{ rule["condition"] }}), false)
{% if not loop.last %}union all{% endif %}
{% endfor %}
{% if not rules %}
select null::text as transaction_id, null::text as rule_id, null::text as severity, null::text as message
where false
{% endif %}
