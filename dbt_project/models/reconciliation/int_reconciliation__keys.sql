{{ config(
    schema='reconciliation',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['side', 'match_type', 'match_key', 'currency'],
    indexes=[{'columns': ['match_type', 'match_key', 'currency']}, {'columns': ['item_id']}, {'columns': ['keyed_at']}],
    pre_hook="set local work_mem = '64MB'",
    post_hook="{{ analyze_after_build('keyed_at') }}",
) }}
-- (work_mem for this model's transaction only: its window sorts span every row, and at 1M rows the 4MB default
-- makes them spill to disk in many passes, doubling the build time; analyze gives the next models real statistics)
-- The reconciliation's keys: one row per (side, match type, item) that can take part in a link, with the key it
-- shares with the other side. Left items expect a counterpart, right rows (bank lines) answer them:
--
--   match_type         left item (key)                                right row (key)
--   stripe_payout      Stripe payout (payout id = reference)          bank credit mentioning Stripe, naming po_...
--   paypal_withdrawal  PayPal withdrawal T04xx (its transaction id)   bank credit "PAYPAL TRANSFER <id>"
--   adyen_payout       Adyen MerchantPayout (transfer reference =     bank credit mentioning Adyen (its reference)
--                      first word of the modification reference)
--   invoice_payment    billing payment (invoice number, no dashes)    bank / lockbox credit naming INV-123 or INV123
--   invoice_refund     billing refund (invoice number)                bank debit naming the invoice
--   internal_transfer  outgoing side on an own bank account           incoming side (same TRF / SWP / UMB reference)
--                      (transfer reference)
--   payroll_run        all register lines of one run (run id)         payroll debit naming the run id (PR-yyyy-nnn)
--   ledger_bank        general-ledger cash line                       bank line
--                      (md5 of exact amount | description, case and spacing folded, on both sides)
--
-- A new processor, reference format or bank text is one more key column in left_keys / right_keys below (and its
-- line in the unpivot after it).
-- position numbers identical items (same side, type, key, currency and day) in file order, so identical lines
-- pair one for one. Only first deliveries take part: re-deliveries are duplicates, not evidence.
-- Incremental: a build keys the delivered rows rebuilt since its last build and recomputes every group (side, match
-- type, key, currency) they join or leave, carrying the groups' other members over as they were keyed before.
{#- ledger_bank's key: the exact amount and the description with case and spacing folded, hashed to keep it short
    (the regexp runs only on the rare description with a double space, tab or line break) -#}
{%- set ledger_key -%}
    md5(amount::text || '|' || upper(case
        when strpos(description_raw, '  ') > 0 or strpos(description_raw, E'\t') > 0
            or strpos(description_raw, E'\n') > 0 or strpos(description_raw, E'\r') > 0
            then regexp_replace(trim(description_raw), '\s+', ' ', 'g')
        else trim(description_raw)
    end))
{%- endset %}

with changed as (
    -- delivered rows rebuilt since this model's last build (every row on a full build)
    select transaction_id, source, reference
    from {{ ref('int_transactions__delivered') }}
    where {{ changed_since_last_build('delivered_at', 'keyed_at') }}
),

candidates as (
    -- first deliveries only: exact and non-identical re-deliveries are duplicates, not evidence
    select
        transaction_id,
        source,
        account_id,
        booked_date,
        amount,
        currency,
        transaction_type,
        description_raw,
        reference,
        source_transaction_id,
        source_file,
        source_row,
        source like 'bank\_%' as is_bank
    from {{ ref('int_transactions__delivered') }}
    where delivery_rank = 1
        and redelivery_of is null
        and amount is not null
        and booked_date is not null
        and currency is not null
        -- only rows that can be a side of some match type (card charges, expenses... never are)
        and (
            source like 'bank\_%'
            or source in ('billing', 'payroll', 'erp_gl')
            or (source = 'stripe' and lower(transaction_type) = 'payout')
            or (source = 'paypal' and transaction_type like 'T04%')
            or (source = 'adyen' and transaction_type = 'MerchantPayout')
        )
        {%- if is_incremental() %}
        -- one list of ids, not "in changed or (payroll and ...)": an OR across the two keeps the planner from
        -- using the transaction_id index, and it scanned every delivered row (1.4 s for 335 rows after 60 days)
        and transaction_id in (
            select transaction_id from changed
            union
            -- a payroll run is keyed from all its register lines
            select payroll.transaction_id
            from {{ ref('int_transactions__delivered') }} as payroll
            where payroll.source = 'payroll'
                and payroll.reference in (select reference from changed where source = 'payroll')
        )
        {%- endif %}
),

left_keys as (
    -- every key a row can offer as a left item, computed once per row (offset 0 keeps the planner from
    -- re-evaluating these expressions for each line of the unpivot below); cheap LIKE tests guard the regexes
    select
        candidates.*,
        case when source = 'stripe' then reference end as stripe_payout,
        case when source = 'paypal' then source_transaction_id end as paypal_withdrawal,
        case when source = 'adyen' then nullif(split_part(description_raw, ' ', 1), '') end as adyen_payout,
        case when source = 'billing'
            then nullif(regexp_replace(upper(reference), '[^A-Z0-9]', '', 'g'), '') end as invoice,
        case when is_bank and amount < 0 and (
                description_text like '%TRF%' or description_text like '%SWP%' or description_text like '%UMB%'
            )
            then substring(description_text from '((?:TRF|SWP|UMB)[0-9]{6,})') end as internal_transfer,
        case when source = 'erp_gl' then {{ ledger_key }} end as ledger_bank
    from (
        select
            candidates.*,
            case when is_bank then upper(coalesce(reference, '') || ' ' || coalesce(description_raw, '')) end
                as description_text
        from candidates
        where not is_bank or amount < 0
    ) as candidates
    offset 0
),

left_rows as (
    select
        left_keys.*,
        keys.match_type,
        keys.match_key,
        keys.expected_sign * left_keys.amount as expected_amount
    from left_keys
    cross join lateral (
        values
            ('stripe_payout', left_keys.stripe_payout, -1),
            ('paypal_withdrawal', left_keys.paypal_withdrawal, -1),
            ('adyen_payout', left_keys.adyen_payout, -1),
            ('invoice_payment', case when left_keys.amount > 0 then left_keys.invoice end, 1),
            ('invoice_refund', case when left_keys.amount < 0 then left_keys.invoice end, 1),
            ('internal_transfer', left_keys.internal_transfer, -1),
            ('ledger_bank', left_keys.ledger_bank, 1)
    ) as keys (match_type, match_key, expected_sign)
    where keys.match_key is not null
),

payroll_runs as (
    -- one-to-many: the run's register lines together are one left item
    select
        'payroll_run'::text as match_type,
        reference as match_key,
        currency,
        min(booked_date) as booked_date,
        sum(amount) as amount,
        sum(amount) as expected_amount,
        count(*) as left_items,
        min(account_id) as account_id,
        min(source_file) as source_file,
        min(source_row) as source_row
    from candidates
    where source = 'payroll' and reference is not null
    group by reference, currency
),

right_keys as (
    -- every key a bank line can offer as a right row, computed once per row
    select
        candidates.*,
        case when amount > 0 and description_text like '%STRIPE%'
            then substring(description_raw from '(po_[A-Za-z0-9]+)') end as stripe_payout,
        case when amount > 0 and description_text like '%PAYPAL TRANSFER %'
            then substring(description_text from 'PAYPAL TRANSFER ([A-Z0-9]+)') end as paypal_withdrawal,
        case when amount > 0 and description_text like '%ADYEN%' then nullif(reference, '') end as adyen_payout,
        case when description_text like '%INV%'
            then 'INV' || substring(description_text from 'INV-?([0-9]+)') end as invoice,
        case when amount > 0 and (
                description_text like '%TRF%' or description_text like '%SWP%' or description_text like '%UMB%'
            )
            then substring(description_text from '((?:TRF|SWP|UMB)[0-9]{6,})') end as internal_transfer,
        case when amount < 0 and description_text like '%PR-%'
            then substring(description_text from '(PR-[0-9]{4}-[0-9]+)') end as payroll_run,
        {{ ledger_key }} as ledger_bank
    from (
        select candidates.*, upper(coalesce(reference, '') || ' ' || coalesce(description_raw, '')) as description_text
        from candidates
        where is_bank
    ) as candidates
    offset 0
),

right_rows as (
    select right_keys.*, keys.match_type, keys.match_key
    from right_keys
    cross join lateral (
        values
            ('stripe_payout', right_keys.stripe_payout),
            ('paypal_withdrawal', right_keys.paypal_withdrawal),
            ('adyen_payout', right_keys.adyen_payout),
            ('invoice_payment', case when right_keys.amount > 0 then right_keys.invoice end),
            ('invoice_refund', case when right_keys.amount < 0 then right_keys.invoice end),
            ('internal_transfer', right_keys.internal_transfer),
            ('payroll_run', right_keys.payroll_run),
            ('ledger_bank', right_keys.ledger_bank)
    ) as keys (match_type, match_key)
    where keys.match_key is not null
),

keyed as (
    select
        'left' as side,
        match_type,
        match_key,
        currency,
        transaction_id as item_id,
        transaction_id,
        source,
        account_id,
        booked_date,
        amount,
        expected_amount,
        1::bigint as items,
        source_file,
        source_row,
        source_transaction_id,
        description_raw as description
    from left_rows
    union all
    select
        'left',
        match_type,
        match_key,
        currency,
        md5('payroll_run|' || match_key || '|' || currency),
        null,
        'payroll',
        account_id,
        booked_date,
        amount,
        expected_amount,
        left_items,
        source_file,
        source_row,
        match_key,
        'payroll run ' || match_key || ' (' || left_items || ' lines)'
    from payroll_runs
    union all
    select
        'right',
        match_type,
        match_key,
        currency,
        transaction_id,
        transaction_id,
        source,
        account_id,
        booked_date,
        amount,
        amount,
        1,
        source_file,
        source_row,
        source_transaction_id,
        description_raw
    from right_rows
),

{%- if is_incremental() %}

groups as (
    -- the groups the changed rows join now or belonged to before
    select side, match_type, match_key, currency from keyed
    union
    select previous.side, previous.match_type, previous.match_key, previous.currency
    from {{ this }} as previous
    where previous.item_id in (select transaction_id from changed)
        or (previous.match_type = 'payroll_run' and previous.side = 'left'
            and previous.match_key in (select reference from changed where source = 'payroll'))
),

carried as (
    -- those groups' other members, as keyed before (their delivered rows did not change)
    select
        previous.side, previous.match_type, previous.match_key, previous.currency, previous.item_id,
        previous.transaction_id, previous.source, previous.account_id, previous.booked_date, previous.amount,
        previous.expected_amount, previous.items, previous.source_file, previous.source_row,
        previous.source_transaction_id, previous.description
    from {{ this }} as previous
    inner join groups
        on groups.side = previous.side
        and groups.match_type = previous.match_type
        and groups.match_key = previous.match_key
        and groups.currency = previous.currency
    where previous.item_id not in (select transaction_id from changed)
        and not (previous.match_type = 'payroll_run' and previous.side = 'left'
            and previous.match_key in (select reference from changed where source = 'payroll'))
),
{%- endif %}

grouped as (
    select * from keyed
    {%- if is_incremental() %}
    union all
    select * from carried
    {%- endif %}
)

select
    grouped.*,
    row_number() over (
        partition by side, match_type, match_key, currency, booked_date
        order by source, source_file, source_row, item_id
    ) as position,
    now() as keyed_at
from grouped
