{{ config(
    tags=['enriched'],
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='transaction_id',
    indexes=[{'columns': ['transaction_id']}, {'columns': ['published_at']}],
    post_hook=[
        'delete from {{ this }} where validation_status = \'quarantined\' or duplicate_of is not null',
        "{{ ensure_index('fingerprint') }}",
        "{{ analyze_after_build('published_at') }}",
    ],
) }}
-- The unified transaction (docs/design.md): one row per real transaction that passed the blocking rules, signed
-- (+ in, - out), with base-currency amount, category (human > rule > ML) and lineage to the raw row.
-- ML categories below the champion's auto-apply threshold are not applied: such a row stays 'uncategorized' with
-- category_needs_review and the model's guess in suggested_category (the review queue). Anomaly score in [0, 1],
-- flag and reasons come from the anomaly model (ml.transaction_anomalies); unscored rows have nulls.
-- A reviewer's latest decision (review.review_decisions) overrides both: a category decision is applied with
-- method 'human', and an anomaly marked not anomalous is no longer flagged. An undone decision no longer counts
-- (review.effective_decisions); its undo row, in review_decisions, makes the next build redo the transaction.
-- Incremental: a build redoes the transactions revalidated, recategorized by a rule, scored or decided on since its
-- last build (scores and decisions, written outside dbt, with a margin: var('late_arrival_window')); a transaction
-- that became a duplicate or was quarantined is taken out by the post-hook.
{%- set margin = var('late_arrival_window') %}
with
{%- if is_incremental() %}
changed as (
    select transaction_id from {{ ref('int_transactions__validated') }}
    where {{ changed_since_last_build('validated_at', 'published_at') }}
    union
    select transaction_id from {{ ref('int_transactions__rule_categorized') }}
    where {{ changed_since_last_build('categorized_at', 'published_at') }}
    union
    select transaction_id from {{ source('ml', 'transaction_categories') }}
    where {{ changed_since_last_build('scored_at', 'published_at', margin) }}
    union
    select transaction_id from {{ source('ml', 'transaction_anomalies') }}
    where {{ changed_since_last_build('scored_at', 'published_at', margin) }}
    union
    select transaction_id from {{ source('review', 'review_decisions') }}
    where {{ changed_since_last_build('decided_at', 'published_at', margin) }} and transaction_id is not null
),
{%- endif %}

validated as (
    select * from {{ ref('int_transactions__validated') }}
    {%- if is_incremental() %}
    where transaction_id in (select transaction_id from changed)
    {%- else %}
    where validation_status <> 'quarantined' and duplicate_of is null
    {%- endif %}
),

rule_categories as (
    select * from {{ ref('int_transactions__rule_categorized') }}
    where category is not null
),

ml_categories as (
    select * from {{ source('ml', 'transaction_categories') }}
),

ml_anomalies as (
    select * from {{ source('ml', 'transaction_anomalies') }}
),

category_decisions as (
    -- the latest category decision per transaction (approve records the category it approved)
    select distinct on (transaction_id) transaction_id, category, reviewer
    from {{ source('review', 'effective_decisions') }}
    where item_type = 'category' and transaction_id is not null
    order by transaction_id, decision_id desc
),

anomaly_decisions as (
    select distinct on (transaction_id) transaction_id, decision
    from {{ source('review', 'effective_decisions') }}
    where item_type = 'anomaly' and transaction_id is not null
    order by transaction_id, decision_id desc
)

select
    validated.transaction_id,
    validated.source,
    validated.source_transaction_id,
    validated.account_id,
    validated.booked_date,
    validated.value_date,
    validated.amount,
    validated.amount_delivered,
    validated.currency,
    validated.amount_base,
    validated.direction,
    validated.transaction_type,
    validated.description_raw,
    validated.description,
    validated.counterparty_raw as counterparty,
    validated.reference,
    validated.balance_after,
    validated.row_hash as fingerprint,
    validated.duplicate_of,
    validated.deliveries,
    validated.validation_status,
    validated.warning_rules,
    coalesce(category_decisions.category, rule_categories.category, ml_categories.category, 'uncategorized')
        as category,
    case
        when category_decisions.category is not null or rule_categories.category is not null then 1.0
        else ml_categories.confidence
    end as category_confidence,
    case
        when category_decisions.category is not null then 'human'
        when rule_categories.category is not null then 'rule'
        when ml_categories.category is not null then ml_categories.method
    end as category_method,
    coalesce(
        'review:' || category_decisions.reviewer,
        rule_categories.category_rule_id,
        ml_categories.model_name || '@' || ml_categories.model_version
    ) as categorized_by,
    category_decisions.category is null and rule_categories.category is null
        and coalesce(ml_categories.needs_review, false) as category_needs_review,
    case
        when category_decisions.category is null and rule_categories.category is null and ml_categories.needs_review
            then ml_categories.predicted_category
    end as suggested_category,
    ml_anomalies.anomaly_score,
    ml_anomalies.is_anomaly and anomaly_decisions.decision is distinct from 'not_anomalous' as anomaly_flagged,
    case
        when ml_anomalies.is_anomaly then
            case anomaly_decisions.decision
                when 'approve' then 'confirmed'
                when 'not_anomalous' then 'dismissed'
                else 'pending'
            end
    end as anomaly_review_status,
    nullif(ml_anomalies.anomaly_reasons, '') as anomaly_reasons,
    ml_anomalies.model_name || '@' || ml_anomalies.model_version as anomaly_scored_by,
    validated.load_id,
    validated.source_file,
    validated.source_row,
    validated.ingested_at,
    now() as published_at
from validated
left join rule_categories using (transaction_id)
left join ml_categories using (transaction_id)
left join ml_anomalies using (transaction_id)
left join category_decisions using (transaction_id)
left join anomaly_decisions using (transaction_id)
