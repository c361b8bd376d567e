"""The JSON shapes the simulated API sources serve, one example each (the contract between simulator and connectors).

The simulator writes each API source's objects, one per line, to ``<FINFLOW_HOME>/simulator/api/<source>.jsonl``
(Adyen: settlement report CSV files in ``simulator/api/adyen/``); the local API server pages through them.

- ``stripe``: Stripe balance transactions (``GET /v1/balance_transactions``, cursor pages with ``starting_after``,
  ``has_more``; ordered newest first as Stripe does; ``created`` unix seconds). Amounts in minor units.
- ``paypal``: PayPal Transaction Search items (``GET /v1/reporting/transactions?start_date&end_date&page``,
  date windows of at most 31 days, ``total_pages``). Amount values are decimal strings.
- ``adyen``: Settlement details report CSVs, listed at ``GET /reports`` and downloaded at ``GET /reports/<name>``.
- ``billing``: AR payments received against invoices (``GET /v1/payments?updated_since&cursor&limit``,
  ``next_cursor``). Decimal strings.
- ``expenses``: corporate card transactions (``GET /v1/transactions?posted_from&posted_to&page``, date windows).
  Amounts in minor units, positive for purchases; ``type`` says purchase or refund.
"""

STRIPE_BALANCE_TRANSACTION = {
    "id": "txn_1PqR2sT3uV4wX5yZ",
    "object": "balance_transaction",
    "amount": 12000,  # minor units; + charge, - refund/fee/payout
    "currency": "usd",
    "created": 1759327380,
    "available_on": 1759500000,
    "description": "Invoice 4F2A-0012",
    "fee": 378,
    "net": 11622,
    "reporting_category": "charge",
    "source": "ch_3PqR2sT3uV4wX5yZ",
    "status": "available",
    "type": "charge",  # charge | refund | payout | stripe_fee | adjustment
    # FinFlow simulator extension (Stripe puts this on the payout object): which payout settled this row
    "payout": "po_1PqS00T3uV4wX5yZ",
}

PAYPAL_TRANSACTION_DETAIL = {
    "transaction_info": {
        "transaction_id": "5TY05013RG002845M",
        "transaction_event_code": "T0006",
        "transaction_initiation_date": "2026-10-01T14:03:00+0000",
        "transaction_updated_date": "2026-10-01T14:03:00+0000",
        "transaction_amount": {"currency_code": "USD", "value": "465.00"},
        "fee_amount": {"currency_code": "USD", "value": "-13.79"},
        "transaction_status": "S",
        "transaction_subject": "Order 1042",
        "invoice_id": "INV-1042",
    },
    "payer_info": {"account_id": "SWMG7TDC7XGR2", "payer_name": {"alternate_full_name": "Globex Inc"}},
}

BILLING_PAYMENT = {
    "id": "pay_000123",
    "object": "payment",
    "invoice_id": "INV-20418",
    "invoice_amount": "1250.00",
    "invoice_issued_on": "2026-09-15",
    "invoice_due_on": "2026-10-15",
    "customer": {"id": "cus_77", "name": "Globex Inc"},
    "amount": "1250.00",  # money received; a refund has a negative amount and kind "refund"
    "currency": "USD",
    "kind": "payment",  # payment | refund
    "method": "wire",  # wire | ach | card | check
    "received_at": "2026-10-01T14:03:00Z",
    "updated_at": "2026-10-01T14:05:12Z",
    "reference": "WIRE REF 8812 INV-20418",
}

EXPENSES_TRANSACTION = {
    "id": "exp_9f8e7d",
    "card": {"last4": "4242", "holder": "Jane Doe"},
    "merchant": {"name": "UNITED AIRLINES", "mcc": "3000"},
    "amount": {"amount": 43210, "currency": "USD"},  # minor units, positive for a purchase
    "type": "purchase",  # purchase | refund
    "posted_at": "2026-10-01",
    "updated_at": "2026-10-01T18:00:00Z",
    "memo": "Flight SFO-JFK customer visit",
    "status": "posted",
}
