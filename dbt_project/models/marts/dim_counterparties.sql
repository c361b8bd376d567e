-- One row per counterparty (customer, vendor, employee, bank...) named by the sources, under a normalized name
-- (upper case, single spaces, no trailing punctuation), counted over true transactions only (duplicates and
-- quarantined rows left out) so totals are not doubled by a payment seen in two systems. Rolled up from
-- int_counterparties__daily.
with spellings as (
    select
        counterparty_name,
        counterparty_raw,
        source,
        sum(rows_seen) as rows_seen,
        min(booked_date) as first_booked_date,
        max(booked_date) as last_booked_date,
        sum(transactions) as transactions,
        sum(total_in_base) as total_in_base,
        sum(total_out_base) as total_out_base
    from {{ ref('int_counterparties__daily') }}
    group by counterparty_name, counterparty_raw, source
)

select
    md5(counterparty_name) as counterparty_key,
    counterparty_name,
    (array_agg(counterparty_raw order by rows_seen desc, counterparty_raw))[1] as display_name,
    array_agg(distinct source order by source) as sources,
    min(first_booked_date) as first_booked_date,
    max(last_booked_date) as last_booked_date,
    sum(transactions) as transactions,
    sum(total_in_base) as total_in_base,
    sum(total_out_base) as total_out_base
from spellings
group by counterparty_name
