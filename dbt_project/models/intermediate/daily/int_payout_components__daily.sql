-- Per processor batch and booking day: how many balance rows a payout of that batch pays out and their net of fees
-- (Stripe by payout id when the balance rows carry it, else by day; PayPal by day; Adyen by batch number).
-- fct_reconciliation sums the days of each batch instead of reading every processor row. The net is also given in the
-- base currency at each row's booking-day rate (macros/fx.sql), for the realized exchange difference of a payout.
{{ config(on_schema_change='append_new_columns') }}
-- Incremental (dbt_project.yml, daily/): a build recomputes the days that hold a transaction validated since
-- its last build.
with validated as (
    {{ rows_on_changed_days(
        ref('int_transactions__validated'), 'validated_at', 'rolled_up_at',
        "source, booked_date, transaction_type, extra, amount, currency, duplicate_of"
    ) }}
),

components as (
    select
        source,
        case
            when source = 'stripe' then coalesce(extra ->> 'payout', 'day:' || booked_date::text)
            when source = 'paypal' then 'day:' || booked_date::text
            when source = 'adyen' then 'batch:' || (extra ->> 'batch_number')
        end as batch_key,
        case
            when pg_input_is_valid(extra ->> 'net', 'numeric') then (extra ->> 'net')::numeric
            else amount
        end as net_amount,
        currency,
        booked_date,
        day_key
    from validated
    where duplicate_of is null
        and (
            (source = 'stripe' and lower(transaction_type) <> 'payout')
            or (source = 'paypal' and transaction_type not like 'T04%')
            or (source = 'adyen' and transaction_type <> 'MerchantPayout')
        )
)

select
    source,
    batch_key,
    day_key,
    count(*) as component_count,
    sum(net_amount) as component_net_amount,
    sum(net_amount * {{ rate_to_base('components.currency', 'components.booked_date') }}) as component_net_amount_base,
    now() as rolled_up_at
from components
group by source, batch_key, day_key
