{{ config(
    schema='reconciliation',
    materialized='table',
    pre_hook="set local work_mem = '64MB'",
    post_hook='analyze {{ this }}',
) }}
-- (work_mem for this model's transaction only: its window sorts span every row, and at 1M rows the 4MB default
-- makes them spill to disk in many passes, doubling the build time; analyze gives the next models real statistics)
-- Every raw row once, with what its deliveries say about it (before any matching across systems):
--   delivery_rank > 1   an exact re-delivery: the same source row (same row_hash) landed again in another file or
--                       API page; only delivery_rank = 1 goes on to int_transactions__deduplicated
--   redelivery_of       a re-delivery that is not identical (a re-exported statement with a changed field, an API
--                       object fetched again after an update): the same fingerprint as a row landed in an earlier
--                       load of the same source; it points at that first row's transaction_id
-- content_key is the row's identity within its source and account: the source's own id for the row when it has
-- one (API object id, bank reference, FITID, ledger line id), else booked date + amount + currency + description.
-- The fingerprint adds the row's occurrence number inside its load: two identical lines in ONE file stay two
-- transactions, while the same lines in a re-exported file match them one for one.
with ranked as (
    select
        unioned.*,
        row_number() over (
            partition by unioned.source, unioned.row_hash
            order by unioned.ingested_at, unioned.load_id, unioned.source_row
        ) as delivery_rank,
        count(*) over (partition by unioned.source, unioned.row_hash) as deliveries,
        md5(concat_ws('|',
            unioned.source,
            coalesce(unioned.account_id, ''),
            coalesce(unioned.currency, ''),
            case
                when unioned.source_transaction_id is not null then 'id:' || unioned.source_transaction_id
                else concat_ws('|',
                    coalesce(unioned.booked_date::text, unioned.conversion_error, ''),
                    coalesce(unioned.amount::text, unioned.conversion_error, ''),
                    coalesce(upper(regexp_replace(trim(unioned.description_raw), '\s+', ' ', 'g')), '')
                )
            end
        )) as content_key
    from {{ ref('int_transactions__unioned') }} as unioned
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
    ) end as redelivery_of
from occurrences
