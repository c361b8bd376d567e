-- The processor payouts (Stripe payouts, PayPal withdrawals, Adyen merchant payouts) with the batch they pay out:
-- by key (Stripe's payout id, Adyen's batch number) and by day. fct_reconciliation reads these few rows instead of
-- every processor row.
-- Incremental (dbt_project.yml, daily/): a build recomputes the days that hold a transaction validated since
-- its last build.
with validated as (
    {{ rows_on_changed_days(
        ref('int_transactions__validated'), 'validated_at', 'rolled_up_at',
        "transaction_id, source, booked_date, transaction_type, extra, reference"
    ) }}
)

select
    transaction_id,
    source,
    case
        when source = 'stripe' then reference
        when source = 'adyen' then 'batch:' || (extra ->> 'batch_number')
    end as batch_key,
    'day:' || booked_date::text as day_batch_key,
    day_key,
    now() as rolled_up_at
from validated
where (source = 'stripe' and lower(transaction_type) = 'payout')
    or (source = 'paypal' and transaction_type like 'T04%')
    or (source = 'adyen' and transaction_type = 'MerchantPayout')
