-- One row per account seen in any source (bank accounts, processor balances, ledger accounts...), with what it
-- holds: how many rows arrived, how many are transactions of their own, duplicates or quarantined, its dates, its
-- latest statement balance and its open (unmatched) reconciliation items.
{{ config(pre_hook="set local work_mem = '64MB'") }}
with validated as (
    select
        source,
        coalesce(account_id, '(none)') as account_id,
        currency,
        booked_date,
        deliveries,
        amount_base,
        balance_after,
        ingested_at,
        source_row,
        validation_status = 'quarantined' as is_quarantined,
        duplicate_of is not null as is_duplicate
    from {{ ref('int_transactions__validated') }}
),

per_currency as (
    -- hash aggregate over every row first; the per-account roll-up below only sees this small result
    select
        source,
        account_id,
        currency,
        min(booked_date) as first_booked_date,
        max(booked_date) as last_booked_date,
        count(*) as distinct_rows,
        sum(deliveries) as rows_delivered,
        count(*) filter (where not is_quarantined and not is_duplicate) as transactions,
        count(*) filter (where is_duplicate) as duplicates,
        count(*) filter (where is_quarantined) as quarantined,
        sum(amount_base) filter (where not is_quarantined and not is_duplicate) as net_amount_base
    from validated
    group by source, account_id, currency
),

per_account as (
    select
        source,
        account_id,
        array_agg(currency order by currency) filter (where currency is not null) as currencies,
        min(first_booked_date) as first_booked_date,
        max(last_booked_date) as last_booked_date,
        sum(distinct_rows) as distinct_rows,
        sum(rows_delivered) as rows_delivered,
        sum(transactions) as transactions,
        sum(duplicates) as duplicates,
        sum(quarantined) as quarantined,
        sum(net_amount_base) as net_amount_base
    from per_currency
    group by source, account_id
),

latest_balance as (
    select distinct on (source, account_id)
        source,
        account_id,
        balance_after as last_balance,
        booked_date as last_balance_date
    from validated
    where balance_after is not null and not is_quarantined
    order by source, account_id, booked_date desc, ingested_at desc, source_row desc
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
