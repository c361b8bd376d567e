{#- prod (FinFlow's runs): the folder's schema name as is (staging, intermediate, marts), not "<target>_<schema>".
    Any other target (an analyst's dev): the target's own schema as a prefix (dbt_alice_staging, dbt_alice_marts),
    so a build by hand never writes the tables FinFlow serves. Sources (raw, ml, review) are read where they are. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if target.name == 'prod' -%}
        {{ custom_schema_name | trim if custom_schema_name else target.schema }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim if custom_schema_name else 'analytics' }}
    {%- endif -%}
{%- endmacro %}
