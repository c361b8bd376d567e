-- One row per account seen in any source (bank accounts, processor balances, ledger accounts...), with what it
-- holds: how many rows arrived, how many are transactions of their own, duplicates or quarantined, its dates, its
-- latest statement balance and its open (unmatched) reconciliation items. Rolled up from int_accounts__daily.
with per_account as (
    select
        source,
        account_id,
        array_agg(distinct currency order by currency) filter (where currency is not null) as currencies,
        min(booked_date) as first_booked_date,
        max(booked_date) as last_booked_date,
        sum(distinct_rows) as distinct_rows,
        sum(rows_delivered) as rows_delivered,
        sum(transactions) as transactions,
        sum(duplicates) as duplicates,
        sum(quarantined) as quarantined,
        sum(net_amount_base) as net_amount_base
    from {{ ref('int_accounts__daily') }}
    group by source, account_id
),

latest_balance as (
    -- the latest of the days' latest balances (a row without a booking day first, as among the rows themselves)
    select distinct on (source, account_id)
        source,
        account_id,
        last_balance,
        booked_date as last_balance_date
    from {{ ref('int_accounts__daily') }}
    where last_balance is not null
    order by source, account_id, booked_date desc, last_balance_ingested_at desc, last_balance_source_row desc
),

open_items as (
    select source, account_id, count(*) as open_reconciliation_items
    from (
        select left_source as source, coalesce(left_account_id, '(none)') as account_id
        from {{ ref('int_reconciliation__links') }}
        where status = 'unmatched' and left_source is not null
        union all
        select right_source, coalesce(right_account_id, '(none)')
        from {{ ref('int_reconciliation__links') }}
        where status = 'unmatched' and right_source is not null
    ) as unmatched
    group by 1, 2
)

select
    md5(per_account.source || '|' || per_account.account_id) as account_key,
    per_account.source,
    per_account.account_id,
    case
        when per_account.source like 'bank\_%' then 'bank_account'
        when per_account.source in ('stripe', 'paypal', 'adyen') then 'payment_processor_balance'
        when per_account.source = 'billing' then 'receivables'
        when per_account.source = 'expenses' then 'corporate_cards'
        when per_account.source = 'payroll' then 'payroll_register'
        when per_account.source = 'erp_gl' then 'general_ledger_account'
        else 'other'
    end as account_kind,
    per_account.currencies,
    per_account.first_booked_date,
    per_account.last_booked_date,
    per_account.rows_delivered,
    per_account.distinct_rows,
    per_account.transactions,
    per_account.duplicates,
    per_account.quarantined,
    per_account.net_amount_base,
    latest_balance.last_balance,
    latest_balance.last_balance_date,
    coalesce(open_items.open_reconciliation_items, 0) as open_reconciliation_items
from per_account
left join latest_balance using (source, account_id)
left join open_items using (source, account_id)
