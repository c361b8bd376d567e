-- Every distinct source row once: exact re-deliveries (the same source row landed again in another file or
-- page) collapse to their first landing. Cross-system duplicates are marked with duplicate_of.
with ranked as (
    select
        *,
        row_number() over (partition by source, row_hash order by ingested_at, load_id, source_row) as delivery_rank,
        count(*) over (partition by source, row_hash) as deliveries
    from {{ ref('int_transactions__unioned') }}
)

select
    *,
    cast(null as text) as duplicate_of
from ranked
where delivery_rank = 1
