{{ config(
    schema='reconciliation',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='raw_row_id',
    indexes=[
        {'columns': ['raw_row_id']}, {'columns': ['transaction_id']}, {'columns': ['delivered_at']},
        {'columns': ['redelivery_of']}, {'columns': ['reference']},
    ],
    pre_hook="set local work_mem = '64MB'",
    post_hook="{{ analyze_after_build('delivered_at') }}",
) }}
-- (work_mem for this model's transaction only: its window sorts span every row, and at 1M rows the 4MB default
-- makes them spill to disk in many passes, doubling the build time; analyze gives the next models real statistics)
-- Every raw row once, with what its deliveries say about it (before any matching across systems):
--   delivery_rank > 1   an exact re-delivery: the same source row (same row_hash) landed again in another file or
--                       API page; only delivery_rank = 1 goes on to int_transactions__deduplicated
--   redelivery_of       a re-delivery that is not identical (a re-exported statement with a changed field, an API
--                       object fetched again after an update): the same fingerprint as a row landed in an earlier
--                       load of the same source; it points at that first row's transaction_id
-- content_key (int_transactions__unioned) is the row's identity within its source and account. The fingerprint
-- adds the row's occurrence number inside its load: two identical lines in ONE file stay two transactions, while
-- the same lines in a re-exported file match them one for one.
-- Incremental: every window below is partitioned within one content_key (the same row_hash implies the same
-- content), so a build recomputes just the content keys of newly unioned rows, old rows included.
with unioned as (
    select * from {{ ref('int_transactions__unioned') }}
    {%- if is_incremental() %}
    where content_key in (
        select content_key from {{ ref('int_transactions__unioned') }}
        where {{ changed_since_last_build('unioned_at', 'delivered_at') }}
    )
    {%- endif %}
),

ranked as (
    select
        unioned.*,
        row_number() over (
            partition by unioned.source, unioned.row_hash
            order by unioned.ingested_at, unioned.load_id, unioned.source_row
        ) as delivery_rank,
        count(*) over (partition by unioned.source, unioned.row_hash) as deliveries
    from unioned
),

occurrences as (
    select
        ranked.*,
        row_number() over (partition by ranked.load_id, ranked.content_key order by ranked.source_row)
            as occurrence_in_load
    from ranked
)

select
    occurrences.*,
    md5(occurrences.content_key || '#' || occurrences.occurrence_in_load::text) as fingerprint,
    case when occurrences.delivery_rank = 1 then nullif(
        first_value(occurrences.transaction_id) over (
            partition by occurrences.content_key, occurrences.occurrence_in_load, occurrences.delivery_rank = 1
            order by occurrences.ingested_at, occurrences.load_id, occurrences.source_row
        ),
        occurrences.transaction_id
    ) end as redelivery_of,
    now() as delivered_at
from occurrences
