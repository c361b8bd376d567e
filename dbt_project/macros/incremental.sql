{#-
  How the large models stay incremental (a 15-minute tick costs in proportion to its new rows, not to history):

  * every incremental model stamps the rows it (re)writes with its own `<model>_at = now()` column;
  * a model downstream takes only the upstream rows stamped after its own newest stamp
    (`changed_since_last_build`), widens them to the whole group its SQL computes over (a content key, a match
    key, a statement file) and replaces those groups (`delete+insert`), so an incremental build gives exactly the
    rows a full build (`dbt build --full-refresh`) gives;
  * dbt builds never overlap (the Dagster `dbt` pool), so "after my newest stamp" misses nothing upstream; tables
    other processes write (ML scores, review decisions) are read with a margin (`var('late_arrival_window')`);
  * rows computed from an analyst's seed (validation rules, categorization rules, tolerances) carry the seed's
    version: when the seed changes, the model recomputes every row (`recompute_everything`).
-#}

{#- The newest stamp is read first and written into the query as a constant: with `> (select max(...))` the planner
    cannot know how few rows are newer, guesses a third of the table and scans all of it (at 800k rows, 1.8 s
    instead of 0.2 s for a tick's rule_inputs); with a constant it reads the few new rows through the stamp's index.
    dbt builds never overlap, so the model's own newest stamp cannot change between this lookup and its query. -#}
{% macro changed_since_last_build(upstream_column, own_column, margin=none) -%}
    {%- if is_incremental() -%}
        {{ upstream_column }} > '{{ newest_stamp(this, own_column) }}'::timestamptz
            {%- if margin %} - interval '{{ margin }}'{% endif %}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- max(column) of relation as timestamptz text ('-infinity' for an empty table, or while dbt only parses) -#}
{% macro newest_stamp(relation, column) -%}
    {%- if not execute -%}{{ return('-infinity') }}{%- endif -%}
    {%- set result = run_query(
        "select coalesce(max(" ~ column ~ "), '-infinity'::timestamptz)::text from " ~ relation
    ) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}


{#- md5 of a seed's whole contents: the version of the rules its rows were computed with -#}
{% macro seed_version(seed) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set result = run_query(
        "select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from " ~ seed ~ " as t"
    ) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}


{#- The version of a table of dated rates: its size, newest day and the sum of its rates (cheap on a large history,
    and any landed rate that changes a conversion changes it) -#}
{% macro rates_version(relation) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set result = run_query(
        "select md5(count(*)::text || '|' || coalesce(max(rate_date)::text, '') || '|'"
        ~ " || coalesce(sum(rate_to_base)::text, '')) from " ~ relation
    ) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}


{#- True on a full build, and on an incremental one whose rows were computed with another seed version -#}
{% macro recompute_everything(version_column, version) -%}
    {%- if not is_incremental() -%}{{ return(true) }}{%- endif -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set result = run_query("select " ~ version_column ~ " from " ~ this ~ " limit 1") -%}
    {{ return(result.rows | length > 0 and result.columns[0].values()[0] != version) }}
{%- endmacro %}


{#- The rows of `relation` on the booking days that hold a row stamped after this model's newest stamp (every row on
    a full build): what a model that rolls rows up per day replaces (unique key `day_key`, the day or -infinity for
    rows without one). Reads the day's rows through the relation's booked_date index. -#}
{% macro rows_on_changed_days(relation, upstream_column, own_column, columns) -%}
    {%- if is_incremental() -%}
    with changed_days as (
        select distinct booked_date from {{ relation }}
        where {{ changed_since_last_build(upstream_column, own_column) }}
    )
    select {{ columns }}, coalesce(booked_date, '-infinity'::date) as day_key
    from {{ relation }}
    where booked_date in (select booked_date from changed_days)
    union all
    select {{ columns }}, '-infinity'::date as day_key
    from {{ relation }}
    where booked_date is null and exists (select from changed_days where booked_date is null)
    {%- else -%}
    select {{ columns }}, coalesce(booked_date, '-infinity'::date) as day_key
    from {{ relation }}
    {%- endif -%}
{%- endmacro %}


{#- A post-hook: an index on `columns` of the model (partial when `where` is given) unless it has that one already.
    dbt's `indexes` config creates indexes only with the table and cannot make a partial one; this also gives tables
    built before an index was added theirs. The index is found again by its comment, a digest of its definition; its
    name is unique because a full build creates the new table while the one it replaces still holds its indexes. -#}
{% macro ensure_index(columns, where=none) -%}
{%- set definition = columns ~ (' where ' ~ where if where else '') -%}
{%- set marker = 'finflow:' ~ local_md5(definition) -%}
do $ensure_index$
declare
    name text := 'ix_' || left(md5('{{ this }}' || clock_timestamp()::text), 24);
begin
    if not exists (
        select from pg_index
        where indrelid = '{{ this }}'::regclass and obj_description(indexrelid, 'pg_class') = '{{ marker }}'
    ) then
        execute 'create index ' || quote_ident(name) || ' on {{ this }} '
            || $definition$({{ columns }}){{ ' where ' ~ where if where else '' }}$definition$;
        execute 'comment on index {{ this.schema }}.' || quote_ident(name) || ' is ' || quote_literal('{{ marker }}');
    end if;
end
$ensure_index$
{%- endmacro %}
