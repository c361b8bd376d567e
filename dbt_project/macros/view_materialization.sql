{#-
  dbt's view materialization (global_project/macros/materializations/models/view.sql), except that a view whose
  compiled SQL and input columns are those it was created from is left as it is. dbt recreates every view on every
  build (create, two renames, drop: exclusive locks that make readers wait, ~0.25 s a view on two cores) although a
  view holds no data; the twelve staging views stood before every 15-minute tick's first model. The view's comment
  records what it was created from: `finflow-view:<md5 of the SQL>:<md5 of its inputs' columns>`, the columns
  because a view fixes `select *` when created. A full refresh, a hook, or a view without that comment recreates it.
-#}
{%- materialization view, adapter='postgres' -%}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set fingerprint = view_fingerprint(sql) -%}
  {%- if existing_relation is not none and existing_relation.is_view and not should_full_refresh()
        and not pre_hooks and not post_hooks -%}
    {%- set stored = run_query(
        "select obj_description(" ~ dbt.string_literal(this.render()) ~ "::regclass, 'pg_class')"
    ).columns[0].values()[0] -%}
    {%- if stored == fingerprint -%}
      {% call statement('main') -%}
        select 'view unchanged' as status
      {%- endcall %}
      {{ return({'relations': [target_relation]}) }}
    {%- endif -%}
  {%- endif -%}

  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
  {%- set backup_relation_type = 'view' if existing_relation is none else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
  {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
  {% set grant_config = config.get('grants') %}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
  {{ drop_relation_if_exists(preexisting_backup_relation) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    {{ get_create_view_as_sql(intermediate_relation, sql) }}
  {%- endcall %}

  {% if existing_relation is not none %}
    {% set existing_relation = load_cached_relation(existing_relation) %}
    {% if existing_relation is not none %}
      {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
  {% endif %}
  {{ adapter.rename_relation(intermediate_relation, target_relation) }}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
  {% do persist_docs(target_relation, model) %}
  {% call statement('record_fingerprint') -%}
    comment on view {{ target_relation }} is {{ dbt.string_literal(fingerprint) }}
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ drop_relation_if_exists(backup_relation) }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{%- endmaterialization -%}


{#- What a view is created from: its compiled SQL and the columns (names, types) of the relations it reads -#}
{% macro view_fingerprint(sql) -%}
    {%- set inputs = [] -%}
    {%- for unique_id in model.depends_on.nodes -%}
        {%- set node = graph.sources[unique_id] if unique_id.startswith('source.') else graph.nodes[unique_id] -%}
        {%- set relation = api.Relation.create(
            database=node.database, schema=node.schema, identifier=node.identifier or node.alias
        ) if unique_id.startswith('source.') else api.Relation.create(
            database=node.database, schema=node.schema, identifier=node.alias
        ) -%}
        {%- do inputs.append(dbt.string_literal(relation.render())) -%}
    {%- endfor -%}
    {%- set columns = run_query(
        "select md5(coalesce(string_agg(attrelid::regclass::text || '.' || attname || ' '"
        ~ " || format_type(atttypid, atttypmod), ',' order by attrelid::regclass::text, attnum), ''))"
        ~ " from pg_attribute where attnum > 0 and not attisdropped and attrelid = any(array["
        ~ (inputs | join(', ') if inputs else "null")
        ~ "]::regclass[])"
    ).columns[0].values()[0] -%}
    {{ return('finflow-view:' ~ local_md5(sql) ~ ':' ~ columns) }}
{%- endmacro %}
