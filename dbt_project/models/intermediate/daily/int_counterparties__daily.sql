-- Per counterparty spelling, source and booking day: under its normalized name (upper case, single spaces, no
-- trailing punctuation), the rows seen and the true transactions among them (duplicates and quarantined rows left
-- out) with their money in and out. dim_counterparties rolls these up instead of every validated row.
-- Incremental (dbt_project.yml, daily/): a build recomputes the days that hold a transaction validated since
-- its last build.
with validated as (
    {{ rows_on_changed_days(
        ref('int_transactions__validated'), 'validated_at', 'rolled_up_at',
        "counterparty_raw, source, booked_date, amount_base,
        validation_status <> 'quarantined' and duplicate_of is null as is_transaction"
    ) }}
),

named as (
    select
        nullif(upper(regexp_replace(
            regexp_replace(trim(counterparty_raw), '\s+', ' ', 'g'), '[[:punct:][:space:]]+$', ''
        )), '') as counterparty_name,
        *
    from validated
    where counterparty_raw is not null
)

select
    counterparty_name,
    counterparty_raw,
    source,
    day_key,
    min(booked_date) as booked_date,
    count(*) as rows_seen,
    count(*) filter (where is_transaction) as transactions,
    coalesce(sum(amount_base) filter (where is_transaction and amount_base > 0), 0) as total_in_base,
    coalesce(sum(amount_base) filter (where is_transaction and amount_base < 0), 0) as total_out_base,
    now() as rolled_up_at
from named
where counterparty_name is not null
group by counterparty_name, counterparty_raw, source, day_key
