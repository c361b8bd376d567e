"""Dagster metadata for report headline figures (the UI plots numbers, so numbers stay numbers where they can).

The only place a report figure may become a float, and only when the float holds it exactly: money that a float
would round (1e15 + 0.13) is shown as its exact decimal text. Files (CSV, HTML, e-mail) never come through here.
"""

from decimal import Decimal
from typing import Any

import dagster as dg


def metadata_value(value: Any) -> Any:
    """Dagster metadata for a headline figure: numbers stay numbers only where a float holds them exactly (money
    that a float would round, e.g. 1e15 + 0.13, is shown as its exact decimal text)."""
    if isinstance(value, bool) or value is None:
        return dg.MetadataValue.text(str(value))
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < 2**53:
            return dg.MetadataValue.int(int(value))
        if Decimal(repr(float(value))) == value:
            return dg.MetadataValue.float(float(value))
        return dg.MetadataValue.text(format(value, "f"))
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    return dg.MetadataValue.text(str(value))
