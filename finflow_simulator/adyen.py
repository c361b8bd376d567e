"""Render Adyen "Settlement details" report CSVs (one file per settlement batch).

Same 30 columns, order and value style as the reports Adyen publishes (see the SmashPig fixtures): gross amounts
in ``Gross Debit/Credit (GC)``, net in ``Net Debit/Credit (NC)``, commission in ``Commission (NC)``, empty cells
where a row type has no value, ``Creation Date`` as ``YYYY-MM-DD HH:MM:SS`` in the report's time zone, and a
closing ``MerchantPayout`` row whose net debit is what the bank account receives.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

HEADER = (
    "Company Account",
    "Merchant Account",
    "Psp Reference",
    "Merchant Reference",
    "Payment Method",
    "Creation Date",
    "TimeZone",
    "Type",
    "Modification Reference",
    "Gross Currency",
    "Gross Debit (GC)",
    "Gross Credit (GC)",
    "Exchange Rate",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
    "Commission (NC)",
    "Markup (NC)",
    "Scheme Fees (NC)",
    "Interchange (NC)",
    "Payment Method Variant",
    "Modification Merchant Reference",
    "Batch Number",
    "Reserved4",
    "Reserved5",
    "Reserved6",
    "Reserved7",
    "Reserved8",
    "Reserved9",
    "Reserved10",
)


@dataclass(slots=True)
class AdyenRow:
    """One settlement-detail line; amounts are cents, None for an empty cell."""

    psp_reference: str
    merchant_reference: str
    payment_method: str
    created: str  # "YYYY-MM-DD HH:MM:SS"
    type: str  # Settled | Refunded | Chargeback | Fee | MerchantPayout
    modification_reference: str
    gross_debit: int | None
    gross_credit: int | None
    net_debit: int | None
    net_credit: int | None
    commission: int | None
    variant: str = ""


def _cell(cents: int | None) -> str:
    if cents is None:
        return ""
    return f"{cents // 100}.{cents % 100:02d}"


def render_adyen_settlement(
    rows: Sequence[AdyenRow], *, company: str, merchant: str, batch: int, currency: str, timezone: str = "CET"
) -> tuple[bytes, list[int]]:
    """The report bytes and each row's line number (header is line 1)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    lines = []
    for number, row in enumerate(rows, start=2):
        lines.append(number)
        payment = bool(row.psp_reference)
        writer.writerow(
            (
                company,
                merchant,
                row.psp_reference,
                row.merchant_reference,
                row.payment_method,
                row.created,
                timezone,
                row.type,
                row.modification_reference,
                currency,
                _cell(row.gross_debit),
                _cell(row.gross_credit),
                "1" if payment else "",
                currency,
                _cell(row.net_debit),
                _cell(row.net_credit),
                _cell(row.commission),
                "",
                "",
                "",
                row.variant,
                row.merchant_reference,
                batch,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            )
        )
    return buffer.getvalue().encode("utf-8"), lines
