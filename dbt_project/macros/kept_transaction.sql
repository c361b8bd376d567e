{#- The validated rows that are transactions of their own (fct_transactions): not quarantined, not a duplicate.
    One spelling of it, so that queries written with it can use the partial index made with it. -#}
{% macro kept_transaction() -%}
validation_status <> 'quarantined' and duplicate_of is null
{%- endmacro %}
