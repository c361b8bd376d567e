{{ config(meta={'dagster': {'ref': {'name': 'int_transactions__validated'}}}) }}
-- depends_on: {{ ref('int_transactions__unioned') }}
-- No raw row lost: every row of every raw.<source> table reaches int_transactions__delivered, and every first
-- delivery reaches int_transactions__validated, where it is kept (fct_transactions), a duplicate (duplicate_of) or
-- quarantined (fct_quarantined_transactions). Exact re-deliveries (delivery_rank > 1) are accounted for by the row
-- they repeat, and nothing else is validated. Returns the sources whose counts disagree and the first deliveries
-- that went missing. Between nightly audits it checks what was built since the invariants last passed (rows are
-- only ever added or replaced whole, so an older row cannot go missing unnoticed): the loads taken since, the
-- deliveries made since and the rows validated since.
{%- set validated_since = invariants_checked_through('validated_through') %}
{%- if validated_since == '-infinity' %}
with raw_counts as (
    {% for source_name in var('finflow_sources') %}
    select '{{ source_name }}'::text as source, count(*) as raw_rows from {{ source('raw', source_name) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

delivered_counts as (
    select
        source,
        count(*) as delivered_rows,
        count(*) filter (where delivery_rank = 1) as first_deliveries,
        sum(hashtext(transaction_id)) filter (where delivery_rank = 1) as first_delivery_ids
    from {{ ref('int_transactions__delivered') }}
    group by source
),

validated_counts as (
    select source, count(*) as validated_rows, sum(hashtext(transaction_id)) as validated_ids
    from {{ ref('int_transactions__validated') }}
    group by source
),

disagreeing as (
    -- a source's first deliveries and validated rows are the same ids when their numbers and the sums of the ids'
    -- hashes agree (a lost row and an extra one would have to hash alike); only the sources where they do not are
    -- searched row by row for the missing ones, so a healthy build reads no row twice
    select source
    from delivered_counts
    full join validated_counts using (source)
    where first_deliveries is distinct from validated_rows or first_delivery_ids is distinct from validated_ids
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
    disagreeing.source,
    null,
    null,
    '(first deliveries and validated rows differ)'
from disagreeing
union all
select
    delivered.source,
    null,
    null,
    delivered.transaction_id
from {{ ref('int_transactions__delivered') }} as delivered
where exists (select from disagreeing)  -- evaluated once: on a healthy build the scan below never starts
    and delivered.delivery_rank = 1
    and delivered.source in (select source from disagreeing)
    and not exists (
        select from {{ ref('int_transactions__validated') }} as validated
        where validated.transaction_id = delivered.transaction_id
    )
{%- else %}
{%- set unioned_since = invariants_checked_through('unioned_through') %}
{%- set delivered_since = invariants_checked_through('delivered_through') %}
with new_loads as (
    select distinct source, load_id
    from {{ ref('int_transactions__unioned') }}
    where unioned_at > '{{ unioned_since }}'::timestamptz
),

raw_counts as (
    {% for source_name in var('finflow_sources') %}
    select '{{ source_name }}'::text as source, load_id, count(*) as raw_rows
    from {{ source('raw', source_name) }}
    where load_id in (select load_id from new_loads where source = '{{ source_name }}')
    group by load_id
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

delivered as (
    select source, load_id, transaction_id, delivery_rank
    from {{ ref('int_transactions__delivered') }}
    where delivered_at > '{{ delivered_since }}'::timestamptz
),

delivered_counts as (
    select source, load_id, count(*) as delivered_rows
    from delivered
    group by source, load_id
)

-- every raw row of the loads taken since was delivered
select
    raw_counts.source,
    raw_counts.raw_rows,
    coalesce(delivered_counts.delivered_rows, 0) as delivered_rows,
    null::text as missing_transaction_id
from raw_counts
left join delivered_counts using (source, load_id)
where raw_counts.raw_rows <> coalesce(delivered_counts.delivered_rows, 0)
union all
-- every first delivery made since was validated
select delivered.source, null, null, delivered.transaction_id
from delivered
where delivered.delivery_rank = 1
    and not exists (
        select from {{ ref('int_transactions__validated') }} as validated
        where validated.transaction_id = delivered.transaction_id
    )
union all
-- and every row validated since is a first delivery
select validated.source, null, null, '(validated, not a first delivery) ' || validated.transaction_id
from {{ ref('int_transactions__validated') }} as validated
where validated.validated_at > '{{ validated_since }}'::timestamptz
    and not exists (
        select from {{ ref('int_transactions__delivered') }} as delivered
        where delivered.transaction_id = validated.transaction_id and delivered.delivery_rank = 1
    )
{%- endif %}
