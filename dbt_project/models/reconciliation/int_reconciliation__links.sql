{{ config(
    schema='reconciliation',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['match_type', 'match_key', 'currency'],
    indexes=[
        {'columns': ['match_type', 'match_key', 'currency']}, {'columns': ['linked_at']},
        {'columns': ['duplicate_transaction_id']}, {'columns': ['duplicate_of']},
    ],
    pre_hook="set local work_mem = '64MB'",
    post_hook="{{ analyze_after_build('linked_at') }}",
) }}
-- (work_mem for this model's transaction only: its window sorts span every row, and at 1M rows the 4MB default
-- makes them spill to disk in many passes, doubling the build time; analyze gives the next models real statistics)
-- Reconciliation in SQL: one row per reconciliation item, either a link between a left item and the right row that
-- answers it (matched / partially_matched) or an item without a counterpart (unmatched, one side empty).
-- Keys and sides per match type: int_reconciliation__keys. Tolerances: seeds/reconciliation_tolerances.csv.
--
-- Candidate pairs come from an equality join on (match type, key, currency), then the tolerances filter them: the
-- right side booked within [left date - days_before, left date + days_after], the amount within amount_tolerance
-- (matched) or within partial_tolerance_pct of the expected amount (partially_matched). Each left item and each
-- right row is linked at most once per match type: a pair is taken when it is the best for both of its sides
-- (amount within tolerance first, then smallest amount difference, smallest date gap, same position among
-- identical lines); a second round does the same among the pairs whose sides are both still free.
-- Only window functions and equality joins: no join without a selective key, no correlated subquery.
-- Incremental: pairs only ever form inside one (match type, key, currency) group, so a build relinks just the
-- groups int_reconciliation__keys rebuilt since; a change to the tolerances seed relinks every group.
{%- set tolerances_version = seed_version(ref('reconciliation_tolerances')) %}
{%- set everything = recompute_everything('tolerances_version', tolerances_version) %}
with keys as (
    select * from {{ ref('int_reconciliation__keys') }}
    {%- if not everything %}
    where (match_type, match_key, currency) in (
        select match_type, match_key, currency from {{ ref('int_reconciliation__keys') }}
        where {{ changed_since_last_build('keyed_at', 'linked_at') }}
    )
    {%- endif %}
),

tolerances as (
    select * from {{ ref('reconciliation_tolerances') }}
),

left_items as (
    select * from keys where side = 'left'
),

right_items as (
    select * from keys where side = 'right'
),

pairs as (
    select
        left_items.match_type,
        left_items.item_id as left_item_id,
        right_items.item_id as right_transaction_id,
        abs(right_items.amount - left_items.expected_amount) <= tolerances.amount_tolerance as within_tolerance,
        abs(right_items.amount - left_items.expected_amount) as amount_gap,
        abs(right_items.booked_date - left_items.booked_date) as date_gap,
        abs(right_items.position - left_items.position) as position_gap
    from left_items
    inner join right_items
        on right_items.match_type = left_items.match_type
        and right_items.match_key = left_items.match_key
        and right_items.currency = left_items.currency
    inner join tolerances
        on tolerances.match_type = left_items.match_type
    where right_items.booked_date
            between left_items.booked_date - tolerances.days_before
            and left_items.booked_date + tolerances.days_after
        and right_items.item_id is distinct from left_items.transaction_id
        and (
            abs(right_items.amount - left_items.expected_amount) <= tolerances.amount_tolerance
            or abs(right_items.amount - left_items.expected_amount)
                <= tolerances.partial_tolerance_pct * abs(left_items.expected_amount)
        )
),

{%- set score = "within_tolerance desc, amount_gap, date_gap, position_gap" %}

first_choices as (
    select
        pairs.*,
        row_number() over (
            partition by match_type, left_item_id order by {{ score }}, right_transaction_id
        ) = 1 as best_for_left,
        row_number() over (
            partition by match_type, right_transaction_id order by {{ score }}, left_item_id
        ) = 1 as best_for_right
    from pairs
),

first_taken as (
    select
        first_choices.*,
        best_for_left and best_for_right as first_round,
        bool_or(best_for_left and best_for_right) over (partition by match_type, left_item_id) as left_taken,
        bool_or(best_for_left and best_for_right) over (partition by match_type, right_transaction_id)
            as right_taken
    from first_choices
),

second_choices as (
    select
        first_taken.*,
        row_number() over (
            partition by match_type, left_item_id order by {{ score }}, right_transaction_id
        ) = 1 as second_best_for_left,
        row_number() over (
            partition by match_type, right_transaction_id order by {{ score }}, left_item_id
        ) = 1 as second_best_for_right
    from first_taken
    where not left_taken and not right_taken
),

links as (
    select match_type, left_item_id, right_transaction_id, within_tolerance
    from first_taken
    where first_round
    union all
    select match_type, left_item_id, right_transaction_id, within_tolerance
    from second_choices
    where second_best_for_left and second_best_for_right
),

items as (
    select
        links.match_type,
        case when links.within_tolerance then 'matched' else 'partially_matched' end as status,
        left_items.match_key,
        left_items.currency,
        left_items.item_id as left_item_id,
        left_items.transaction_id as left_transaction_id,
        left_items.source as left_source,
        left_items.account_id as left_account_id,
        left_items.booked_date as left_booked_date,
        left_items.amount as left_amount,
        left_items.items as left_items,
        left_items.source_file as left_source_file,
        left_items.source_row as left_source_row,
        left_items.source_transaction_id as left_source_transaction_id,
        left_items.description as left_description,
        right_items.transaction_id as right_transaction_id,
        right_items.source as right_source,
        right_items.account_id as right_account_id,
        right_items.booked_date as right_booked_date,
        right_items.amount as right_amount,
        right_items.source_file as right_source_file,
        right_items.source_row as right_source_row,
        right_items.source_transaction_id as right_source_transaction_id,
        right_items.description as right_description,
        left_items.expected_amount,
        right_items.amount - left_items.expected_amount as amount_difference,
        right_items.booked_date - left_items.booked_date as days_apart
    from links
    inner join left_items
        on left_items.match_type = links.match_type and left_items.item_id = links.left_item_id
    inner join right_items
        on right_items.match_type = links.match_type and right_items.item_id = links.right_transaction_id
    union all
    select
        left_items.match_type,
        'unmatched',
        left_items.match_key,
        left_items.currency,
        left_items.item_id,
        left_items.transaction_id,
        left_items.source,
        left_items.account_id,
        left_items.booked_date,
        left_items.amount,
        left_items.items,
        left_items.source_file,
        left_items.source_row,
        left_items.source_transaction_id,
        left_items.description,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        left_items.expected_amount,
        null,
        null
    from left_items
    left join links
        on links.match_type = left_items.match_type and links.left_item_id = left_items.item_id
    where links.left_item_id is null
    union all
    select
        right_items.match_type,
        'unmatched',
        right_items.match_key,
        right_items.currency,
        null,
        null,
        null,
        null,
        null,
        null,
        0,
        null,
        null,
        null,
        null,
        right_items.transaction_id,
        right_items.source,
        right_items.account_id,
        right_items.booked_date,
        right_items.amount,
        right_items.source_file,
        right_items.source_row,
        right_items.source_transaction_id,
        right_items.description,
        null,
        null,
        null
    from right_items
    left join links
        on links.match_type = right_items.match_type and links.right_transaction_id = right_items.item_id
    where links.right_transaction_id is null
)

select
    md5(concat_ws('|', items.match_type, coalesce(items.left_item_id, ''), coalesce(items.right_transaction_id, '')))
        as reconciliation_id,
    items.*,
    tolerances.duplicate_side,
    case
        when items.status = 'unmatched' then null
        when tolerances.duplicate_side = 'right' then items.right_transaction_id
        when tolerances.duplicate_side = 'left' then items.left_transaction_id
    end as duplicate_transaction_id,
    case
        when items.status = 'unmatched' then null
        when tolerances.duplicate_side = 'right' then items.left_transaction_id
        when tolerances.duplicate_side = 'left' then items.right_transaction_id
    end as duplicate_of,
    '{{ tolerances_version }}'::text as tolerances_version,
    now() as linked_at
from items
left join tolerances using (match_type)
