-- Exact re-deliveries (the same source row landed again in another file or page) collapse to the first landing.
with ranked as (
    select
        *,
        row_number() over (partition by source, row_hash order by ingested_at, load_id, source_row) as delivery_rank
    from {{ ref('int_transactions__unioned') }}
)

select * from ranked where delivery_rank = 1
