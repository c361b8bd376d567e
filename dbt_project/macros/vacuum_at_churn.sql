{#-
  Per-table autovacuum for a model a tick rewrites in part (the booking days it touched): vacuumed and analyzed
  after `share` of its rows changed instead of PostgreSQL's default 20%, so each vacuum is small and frequent
  rather than a large one every ~10 ticks that competes with a tick for the two cores. Set once (a table the build
  recreated gets it again): ALTER TABLE would otherwise wait for a running autovacuum on every build.
-#}
{% macro vacuum_at_churn(share=0.02) -%}
do $vacuum_at_churn$
begin
    if not coalesce(
        (select reloptions @> array['autovacuum_vacuum_scale_factor={{ share }}'] from pg_class
         where oid = '{{ this }}'::regclass), false) then
        alter table {{ this }} set (autovacuum_vacuum_scale_factor = {{ share }},
                                     autovacuum_analyze_scale_factor = {{ share }});
    end if;
end
$vacuum_at_churn$
{%- endmacro %}
