-- One row per (transaction, broken rule): the rule ids int_transactions__validated recorded, with the severity and
-- message of seeds/validation_rules.csv and where the row came from.
-- Incremental: a build lists again the booking days that hold a transaction validated since its last build (a
-- change to the rules revalidates, so relists, every transaction); read by fct_rule_violations,
-- fct_quarantined_transactions and fct_reconciliation instead of every validated row.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='day_key',
    indexes=[{'columns': ['day_key']}, {'columns': ['transaction_id']}],
    post_hook=["{{ analyze_after_build('listed_at') }}", "{{ vacuum_at_churn() }}"],
) }}
with validated as (
    {{ rows_on_changed_days(
        ref('int_transactions__validated'), 'validated_at', 'listed_at',
        "transaction_id, source, account_id, booked_date, amount, currency, description_raw, source_file, source_row,
        blocking_rules, warning_rules"
    ) }}
),

broken as (
    select *, unnest(coalesce(blocking_rules, '{}') || coalesce(warning_rules, '{}')) as rule_id
    from validated
    where blocking_rules is not null or warning_rules is not null
)

select
    broken.transaction_id,
    broken.rule_id,
    rules.severity::text as severity,
    rules.message::text as message,
    broken.source,
    broken.account_id,
    broken.booked_date,
    broken.amount,
    broken.currency,
    broken.description_raw,
    broken.source_file,
    broken.source_row,
    broken.day_key,
    now() as listed_at
from broken
inner join {{ ref('validation_rules') }} as rules using (rule_id)
