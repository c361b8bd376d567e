{{ config(severity='warn') }}
-- One-to-many: a processor payout equals the net of the balance rows it pays out (charges - fees - refunds).
-- A payout not fully explained is worth a look (a missing or quarantined charge, a reserve held back), but it is
-- a warning: the payout itself may still match its bank deposit. (A payroll run's lines against its debit are
-- the link's own amount_difference: partially_matched when they disagree.)
select
    reconciliation_id,
    match_type,
    left_transaction_id,
    expected_amount,
    component_count,
    component_amount,
    component_difference
from {{ ref('fct_reconciliation') }}
where match_type in ('stripe_payout', 'paypal_withdrawal', 'adyen_payout')
    and left_transaction_id is not null
    and abs(coalesce(component_difference, expected_amount)) > 0.005
