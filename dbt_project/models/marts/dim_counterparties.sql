-- One row per counterparty (customer, vendor, employee, bank...) named by the sources, under a normalized name
-- (upper case, single spaces, no trailing punctuation), counted over true transactions only (duplicates and
-- quarantined rows left out) so totals are not doubled by a payment seen in two systems.
with named as (
    select
        nullif(upper(regexp_replace(
            regexp_replace(trim(counterparty_raw), '\s+', ' ', 'g'), '[[:punct:][:space:]]+$', ''
        )), '') as counterparty_name,
        counterparty_raw,
        source,
        booked_date,
        amount_base,
        validation_status <> 'quarantined' and duplicate_of is null as is_transaction
    from {{ ref('int_transactions__validated') }}
    where counterparty_raw is not null
),

spellings as (
    -- hash aggregate over every row first; the roll-up per name below only sees this small result
    select
        counterparty_name,
        counterparty_raw,
        source,
        count(*) as rows_seen,
        min(booked_date) as first_booked_date,
        max(booked_date) as last_booked_date,
        count(*) filter (where is_transaction) as transactions,
        coalesce(sum(amount_base) filter (where is_transaction and amount_base > 0), 0) as total_in_base,
        coalesce(sum(amount_base) filter (where is_transaction and amount_base < 0), 0) as total_out_base
    from named
    where counterparty_name is not null
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
