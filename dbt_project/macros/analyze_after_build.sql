{#-
  Refresh the planner's statistics after a build that rewrote a good part of the table: a first or full build,
  a backlog, a seed change that recomputed everything. `stamp_column` is the model's build stamp (`now()` on every
  row the build wrote, indexed); the hook runs in the build's transaction, so `now()` is that build's stamp.
  A 15-minute tick's few hundred rows in a large table are left to autovacuum's own analyze (after 10% changed):
  ANALYZE samples up to 30,000 rows however small the batch, and on the tick's path it cost more than the
  builds themselves (1.6 s to analyze int_transactions__validated after 11k rows into 110k).
-#}
{% macro analyze_after_build(stamp_column, share=0.1) -%}
do $analyze_after_build$
begin
    if (select count(*) from {{ this }} where {{ stamp_column }} = now())
        > {{ share }} * (select greatest(reltuples, 0) from pg_class where oid = '{{ this }}'::regclass) then
        analyze {{ this }};
    end if;
end
$analyze_after_build$
{%- endmacro %}
