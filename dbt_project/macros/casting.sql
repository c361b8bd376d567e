{#- Casts that yield NULL instead of failing the model, so staging can flag the row (needs PostgreSQL 16+). -#}
{% macro try_cast(expression, type) -%}
    case when pg_input_is_valid({{ expression }}, '{{ type }}') then ({{ expression }})::{{ type }} end
{%- endmacro %}

{#- Upper case, collapse whitespace, drop long digit runs (card refs, store numbers) so text groups well. -#}
{% macro normalize_text(expression) -%}
    nullif(trim(regexp_replace(regexp_replace(upper({{ expression }}), '[0-9]{4,}', '', 'g'), '\s+', ' ', 'g')), '')
{%- endmacro %}
