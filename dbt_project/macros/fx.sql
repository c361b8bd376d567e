{#- The rate that converts 1 unit of `currency` to the base currency on `day`: the last ECB rate known that day
    (int_fx_rates; weekends and TARGET holidays take the previous business day's), else the fixed rate of
    seeds/fx_rates.csv (a currency the ECB does not quote, a day before its first rate). One index probe per row. -#}
{% macro rate_to_base(currency, day) -%}
coalesce(
    (
        select rates.rate_to_base
        from {{ ref('int_fx_rates') }} as rates
        where rates.currency = {{ currency }} and rates.rate_date <= {{ day }}
        order by rates.rate_date desc
        limit 1
    ),
    (select fx.rate_to_base from {{ ref('fx_rates') }} as fx where fx.currency = {{ currency }})
)
{%- endmacro %}
