{{ config(materialized='table', indexes=[{'columns': ['currency', 'rate_date']}]) }}
-- Dated rates to the base currency (var base_currency) from the ECB's euro reference rates: on rate_date, 1 unit of
-- `currency` is rate_to_base units of the base currency (the ECB's cross rate: base per EUR / currency per EUR). A
-- rate holds until the day before the next published one (valid_to), so a transaction booked on a weekend or a
-- TARGET holiday converts at the last rate known that day; int_transactions__unioned falls back to seeds/fx_rates.csv
-- for currencies the ECB does not quote and days before its first rate.
with rates as (
    select rate_date, currency, units_per_eur from {{ ref('stg_fx_rates_ecb__rates') }}
    union all
    select distinct rate_date, 'EUR', 1 from {{ ref('stg_fx_rates_ecb__rates') }}
),

base as (
    select rate_date, units_per_eur as base_per_eur
    from rates
    where currency = '{{ var("base_currency") }}'
)

select
    rates.currency,
    rates.rate_date,
    coalesce(
        lead(rates.rate_date) over (partition by rates.currency order by rates.rate_date) - 1, 'infinity'::date
    ) as valid_to,
    round(base.base_per_eur / rates.units_per_eur, 10) as rate_to_base
from rates
inner join base on base.rate_date = rates.rate_date
