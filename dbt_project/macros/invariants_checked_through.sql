{#- The money invariants check the rows built since they last passed, not the whole history: a row can only break
    an invariant when it, or a row it points at, is rebuilt (incremental models replace whole keys, never drop one),
    so after 60 days a build checks a few thousand rows instead of 800,000 (1.0-1.2 s -> 0.16-0.25 s).
    Returns the newest `column` stamp (unioned_through, delivered_through, validated_through) of the build where they
    last passed (int_transactions__invariants_passed), as timestamptz text; '-infinity' (check every row) before
    the first pass, while dbt only parses, and after the nightly audit emptied it. The model is found by name, not
    ref(): a ref would make the tests wait for it, and it must wait for them. -#}
{% macro invariants_checked_through(column) -%}
    {%- if not execute -%}{{ return('-infinity') }}{%- endif -%}
    {%- set node = graph.nodes.get('model.finflow.int_transactions__invariants_passed') -%}
    {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)
        if node else none -%}
    {%- if relation is none -%}{{ return('-infinity') }}{%- endif -%}
    {%- set result = run_query(
        "select coalesce(max(" ~ column ~ "), '-infinity'::timestamptz)::text from " ~ relation
    ) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}
