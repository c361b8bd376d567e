-- The ECB's euro reference rates as landed (raw.fx_rates_ecb, parsers/ecb_rates.py): one row per day and currency,
-- units of the currency per 1 EUR. A day landed more than once (the daily file, later the history) keeps its newest
-- landing. The parser already refused unreadable dates and rates, so the casts cannot fail.
select distinct on (rate_date, currency)
    (record ->> 'booked_date')::date as rate_date,
    upper(record ->> 'currency') as currency,
    (record ->> 'amount')::numeric as units_per_eur,
    load_id,
    ingested_at
from {{ source('raw', 'fx_rates_ecb') }}
order by rate_date, currency, ingested_at desc, source_row desc
