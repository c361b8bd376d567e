{{ config(tags=['enriched']) }}
-- The unified transaction (DESIGN.md): one row per real transaction that passed the blocking rules, signed
-- (+ in, - out), with base-currency amount, category (human > rule > ML) and lineage to the raw row.
with validated as (
    select * from {{ ref('int_transactions__validated') }}
    where validation_status <> 'quarantined' and duplicate_of is null
),

rule_categories as (
    select * from {{ ref('int_transactions__rule_categorized') }}
),

ml_categories as (
    select * from {{ source('ml', 'transaction_categories') }}
)

select
    validated.transaction_id,
    validated.source,
    validated.source_transaction_id,
    validated.account_id,
    validated.booked_date,
    validated.value_date,
    validated.amount,
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
    coalesce(rule_categories.category, ml_categories.category, 'uncategorized') as category,
    case
        when rule_categories.category is not null then 1.0
        else ml_categories.confidence
    end as category_confidence,
    case
        when rule_categories.category is not null then 'rule'
        when ml_categories.category is not null then ml_categories.method
    end as category_method,
    coalesce(rule_categories.category_rule_id, ml_categories.model_name || '@' || ml_categories.model_version)
        as categorized_by,
    validated.load_id,
    validated.source_file,
    validated.source_row,
    validated.ingested_at
from validated
left join rule_categories using (transaction_id)
left join ml_categories using (transaction_id)
