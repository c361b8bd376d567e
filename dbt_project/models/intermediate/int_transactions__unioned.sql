{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='raw_row_id',
    indexes=[{'columns': ['raw_row_id']}, {'columns': ['load_id']}, {'columns': ['content_key']}, {'columns': ['unioned_at']}],
    post_hook="{{ analyze_after_build('unioned_at') }}",
) }}
-- Every source's staged transactions in one schema, with base-currency amounts and the row's content_key: its
-- identity within its source and account (the source's own id for the row when it has one: API object id, bank
-- reference, FITID, ledger line id; else booked date + amount + currency + description, case and spacing folded).
-- Incremental: a build appends the rows of the loads (raw._loads) it has not taken yet, whatever order they
-- committed in; the load-id filter reaches each raw table through its staging view (raw.<source>.load_id index).
-- amount_base converts at the booking day's rate (macros/fx.sql: the last ECB rate known that day, else the fixed
-- rate of seeds/fx_rates.csv).
-- A change to the seed or to the landed rates recomputes every row (and so everything downstream).
{%- set fx_version = seed_version(ref('fx_rates')) ~ ':' ~ rates_version(ref('int_fx_rates')) -%}
{%- set everything = recompute_everything('fx_version', fx_version) -%}
{%- set new_loads = {} -%}
{%- if execute and not everything -%}
    {%- set journal = source('raw', var('finflow_sources')[0]).schema ~ '._loads' -%}
    {%- set result = run_query(
        "select source, string_agg(quote_literal(load_id::text), ', ') from " ~ journal ~ " as loads"
        ~ " where status = 'landed' and rows_landed > 0"
        ~ " and not exists (select 1 from " ~ this ~ " as taken where taken.load_id = loads.load_id)"
        ~ " group by source"
    ) -%}
    {%- for row in result.rows -%}{%- do new_loads.update({row[0]: row[1]}) -%}{%- endfor -%}
{%- endif %}

with unioned as (
    {% for source_name in var('finflow_sources') %}
    select * from {{ ref('stg_' ~ source_name ~ '__transactions') }}
    {%- if not everything %}
    where load_id in ({{ new_loads.get(source_name, 'null') }})
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    unioned.*,
    round(unioned.amount * {{ rate_to_base('unioned.currency', 'unioned.booked_date') }}, 2) as amount_base,
    md5(concat_ws('|',
        unioned.source,
        coalesce(unioned.account_id, ''),
        coalesce(unioned.currency, ''),
        case
            when unioned.source_transaction_id is not null then 'id:' || unioned.source_transaction_id
            else concat_ws('|',
                coalesce(unioned.booked_date::text, unioned.conversion_error, ''),
                coalesce(unioned.amount::text, unioned.conversion_error, ''),
                coalesce(upper(regexp_replace(trim(unioned.description_raw), '\s+', ' ', 'g')), '')
            )
        end
    )) as content_key,
    '{{ fx_version }}'::text as fx_version,
    now() as unioned_at
from unioned
