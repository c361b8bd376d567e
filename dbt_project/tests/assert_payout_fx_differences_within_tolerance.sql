{{ config(severity='warn') }}
-- A processor payout whose realized exchange difference (its components at the payout day's rate against their own
-- days' rates) is larger than fx_tolerance_pct of it: more than a rate move explains, worth a look. Smaller ones are
-- reported in fct_reconciliation.fx_difference, not counted as mismatches.
select reconciliation_id, match_type, left_transaction_id, expected_amount_base, component_amount_base, fx_difference
from {{ ref('fct_reconciliation') }}
where match_type in ('stripe_payout', 'paypal_withdrawal', 'adyen_payout')
    and left_transaction_id is not null
    and not fx_within_tolerance
