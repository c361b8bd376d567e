{#- The link that makes a row an echo, as a subquery for a lateral join: its parent and match type. A row is the
    duplicate side of at most one link; ties are broken as int_transactions__deduplicated's full build breaks them
    (match_type, then duplicate_of). -#}
{% macro echo_link_of(links, transaction_id) -%}
    select duplicate_of as parent_id, match_type from {{ links }}
    where duplicate_transaction_id = {{ transaction_id }} and duplicate_of is not null
    order by match_type, duplicate_of
    limit 1
{%- endmacro %}
