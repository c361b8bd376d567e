{{ config(meta={'dagster': {'ref': {'name': 'int_transactions__validated'}}}) }}
-- No raw row lost: every row of every raw.<source> table reaches int_transactions__delivered, and every first
-- delivery reaches int_transactions__validated, where it is kept (fct_transactions), a duplicate (duplicate_of) or
-- quarantined (fct_quarantined_transactions). Exact re-deliveries (delivery_rank > 1) are accounted for by the row
-- they repeat. Returns the sources whose counts disagree and the first deliveries that went missing.
with raw_counts as (
    {% for source_name in var('finflow_sources') %}
    select '{{ source_name }}'::text as source, count(*) as raw_rows from {{ source('raw', source_name) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

delivered as (
    select source, transaction_id, delivery_rank from {{ ref('int_transactions__delivered') }}
),

delivered_counts as (
    select source, count(*) as delivered_rows from delivered group by source
),

validated as (
    select transaction_id from {{ ref('int_transactions__validated') }}
)

select
    raw_counts.source,
    raw_counts.raw_rows,
    coalesce(delivered_counts.delivered_rows, 0) as delivered_rows,
    null::text as missing_transaction_id
from raw_counts
left join delivered_counts using (source)
where raw_counts.raw_rows <> coalesce(delivered_counts.delivered_rows, 0)
union all
select
    delivered.source,
    null,
    null,
    delivered.transaction_id
from delivered
where delivered.delivery_rank = 1
    and not exists (select 1 from validated where validated.transaction_id = delivered.transaction_id)
