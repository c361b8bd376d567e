-- Per account, currency and booking day: what arrived (rows, deliveries), what is a transaction of its own, a
-- duplicate or quarantined, the net of the transactions, and the day's latest statement balance. dim_accounts rolls
-- these few thousand rows up instead of every validated row.
-- Incremental (dbt_project.yml, daily/): a build recomputes the days that hold a transaction validated since
-- its last build.
with validated as (
    {{ rows_on_changed_days(
        ref('int_transactions__validated'), 'validated_at', 'rolled_up_at',
        "source, coalesce(account_id, '(none)') as account_id, currency, booked_date, deliveries, amount_base,
        balance_after, ingested_at, source_row, validation_status = 'quarantined' as is_quarantined,
        duplicate_of is not null as is_duplicate"
    ) }}
),

latest_balance as (
    select distinct on (source, account_id, currency, day_key)
        source,
        account_id,
        currency,
        day_key,
        balance_after as last_balance,
        ingested_at as last_balance_ingested_at,
        source_row as last_balance_source_row
    from validated
    where balance_after is not null and not is_quarantined
    order by source, account_id, currency, day_key, ingested_at desc, source_row desc
),

per_day as (
    select
        source,
        account_id,
        currency,
        day_key,
        min(booked_date) as booked_date,
        count(*) as distinct_rows,
        sum(deliveries) as rows_delivered,
        count(*) filter (where not is_quarantined and not is_duplicate) as transactions,
        count(*) filter (where is_duplicate) as duplicates,
        count(*) filter (where is_quarantined) as quarantined,
        sum(amount_base) filter (where not is_quarantined and not is_duplicate) as net_amount_base
    from validated
    group by source, account_id, currency, day_key
)

select
    per_day.*,
    latest_balance.last_balance,
    latest_balance.last_balance_ingested_at,
    latest_balance.last_balance_source_row,
    now() as rolled_up_at
from per_day
left join latest_balance using (source, account_id, currency, day_key)
