{#-
  A data test's `where` config may name the tested table as __this__, so a test on an incremental model can check
  only the rows its latest build wrote:

      config: {where: "validated_at = (select max(validated_at) from __this__)"}

  Every row a build writes carries the same `<model>_at` stamp (now() of the build's transaction), and a row no
  build rewrites never changes, so for a row-level test (not_null, accepted_values) and for unique on the model's
  unique_key (delete+insert replaces older rows with the same key) testing each build's rows tests the whole table,
  at the cost of the new rows instead of the history. A full refresh stamps every row alike and tests them all.
  Tests that compare rows across builds (relationships, unique on another column, the money invariants in tests/)
  keep reading the whole table.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        (select * from {{ relation }} where {{ where | replace('__this__', relation | string) }}) dbt_subquery
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}
