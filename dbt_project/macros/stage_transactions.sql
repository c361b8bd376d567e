{#-
  The common staging shape for a raw.<source> table: cast the canonical record fields, one sign convention
  (+ in, - out), ISO currency, and a conversion_error column naming every field that did not cast
  (those rows are flagged, never silently nulled: validation rules quarantine them).
-#}
{% macro stage_transactions(source_name, default_account="null", default_currency="null") %}
with source as (
    select * from {{ source('raw', source_name) }}
),

typed as (
    select
        '{{ source_name }}'::text as source,
        md5(load_id::text || ':' || source_row::text) as raw_row_id,
        md5('{{ source_name }}' || ':' || row_hash) as transaction_id,
        row_hash,
        record ->> 'external_id' as source_transaction_id,
        coalesce(record ->> 'account', {{ default_account }}) as account_id,
        {{ try_cast("record ->> 'booked_date'", 'date') }} as booked_date,
        {{ try_cast("record ->> 'value_date'", 'date') }} as value_date,
        {{ try_cast("record ->> 'amount'", 'numeric') }} as amount_delivered,
        upper(coalesce(record ->> 'currency', {{ default_currency }})) as currency,
        record ->> 'transaction_type' as transaction_type,
        record ->> 'description' as description_raw,
        {{ normalize_text("record ->> 'description'") }} as description,
        record ->> 'counterparty' as counterparty_raw,
        record ->> 'reference' as reference,
        {{ try_cast("record ->> 'balance_after'", 'numeric') }} as balance_after,
        record ->> 'statement_id' as statement_id,
        record -> 'extra' as extra,
        record ->> 'booked_date' as booked_date_text,
        record ->> 'amount' as amount_text,
        record ->> 'balance_after' as balance_after_text,
        load_id,
        origin as source_file,
        source_row,
        ingested_at
    from source
),

rounded as (
    -- an amount with more decimals than its currency has (ISO 4217, seeds/currencies.csv) counts rounded to the
    -- currency's minor unit, so amounts and base amounts add up alike; amount_delivered keeps what the file said and
    -- the amount_minor_units warning rule shows the rounding
    select
        typed.*,
        case
            when currencies.minor_units is not null then round(typed.amount_delivered, currencies.minor_units)
            else typed.amount_delivered
        end as amount
    from typed
    left join {{ ref('currencies') }} as currencies on currencies.currency = typed.currency
)

select
    source,
    raw_row_id,
    transaction_id,
    row_hash,
    source_transaction_id,
    account_id,
    booked_date,
    value_date,
    amount,
    amount_delivered,
    currency,
    case when amount > 0 then 'in' when amount < 0 then 'out' else 'none' end as direction,
    transaction_type,
    description_raw,
    description,
    counterparty_raw,
    reference,
    balance_after,
    statement_id,
    extra,
    nullif(concat_ws(', ',
        case when booked_date is null then 'booked_date ' || coalesce(quote_literal(booked_date_text), 'missing') end,
        case when amount is null then 'amount ' || coalesce(quote_literal(amount_text), 'missing') end,
        case when balance_after is null and balance_after_text is not null
            then 'balance_after ' || quote_literal(balance_after_text) end
    ), '') as conversion_error,
    load_id,
    source_file,
    source_row,
    ingested_at
from rounded
{% endmacro %}
