{#-
  A data test's `where` config may name the tested table as __this__, so a test on an incremental model can check
  only the rows its latest build wrote:

      config: {where: "validated_at = (select max(validated_at) from __this__)"}

  Every row a build writes carries the same `<model>_at` stamp (now() of the build's transaction), and a row no
  build rewrites never changes, so for a row-level test (not_null, accepted_values) and for unique on the model's
  unique_key (delete+insert replaces older rows with the same key) testing each build's rows tests the whole table,
  at the cost of the new rows instead of the history. A full refresh stamps every row alike and tests them all.
  Tests that compare rows across builds (relationships, unique on another column, the money invariants in tests/)
  keep reading the whole table. `(select max(<column>) from __this__)` is looked up first and written in as a
  constant (see newest_stamp in incremental.sql): the planner then reads the build's rows through the stamp's index.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = namespace(sql=config.get('where', '')) -%}
    {%- if where.sql -%}
        {%- for column in modules.re.findall('\\(select max\\((\\w+)\\) from __this__\\)', where.sql) -%}
            {%- set where.sql = where.sql | replace(
                '(select max(' ~ column ~ ') from __this__)',
                "'" ~ newest_stamp(relation, column) ~ "'::timestamptz"
            ) -%}
        {%- endfor %}
        (select * from {{ relation }} where {{ where.sql | replace('__this__', relation | string) }}) dbt_subquery
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}
