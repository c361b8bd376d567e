{{ config(materialized='table') }}
-- How far the money invariants (tests/assert_*.sql) have checked: the newest stamps of the unioned, delivered and
-- validated rows when they last passed. `dbt build` builds this only after every test on its parents passed, so a
-- build whose invariants fail leaves it where it was, and the next build checks the failing rows again (they stay
-- failing until fixed). The invariants read it to check only the rows built since (`invariants_checked_through`);
-- the nightly warehouse audit empties it first, so they check every row (`finflow audit`, docs/operating.md).
select
    (select max(unioned_at) from {{ ref('int_transactions__unioned') }}) as unioned_through,
    (select max(delivered_at) from {{ ref('int_transactions__delivered') }}) as delivered_through,
    (select max(validated_at) from {{ ref('int_transactions__validated') }}) as validated_through,
    now() as passed_at
