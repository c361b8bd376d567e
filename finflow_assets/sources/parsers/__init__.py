"""Source-format parsers, looked up by format name (the ``format`` of a source in the registry).

Modules are imported lazily so that loading the Dagster definitions does not import every parsing library.
"""

from __future__ import annotations

import importlib

from .base import ParsedFile, ParseError, Parser, make_record

# format name -> "module:function" inside this package
PARSERS: dict[str, str] = {
    "bank_csv": "bank_csv:parse_bank_csv",
    "ofx": "ofx:parse_ofx",
    "mt940": "mt940:parse_mt940",
    "camt053": "camt053:parse_camt053",
    "bai2": "bai2:parse_bai2",
    "stripe_json": "stripe:parse_stripe_balance_transactions",
    "paypal_json": "paypal:parse_paypal_transactions",
    "adyen_settlement_csv": "adyen:parse_adyen_settlement_csv",
    "billing_json": "billing:parse_billing_payments",
    "expenses_json": "expenses:parse_expenses_transactions",
    "ecb_rates_csv": "ecb_rates:parse_ecb_rates",
}


def get_parser(format_name: str) -> Parser:
    """The parser function for a format name, raising KeyError with the known names if there is none."""
    try:
        target = PARSERS[format_name]
    except KeyError:
        raise KeyError(f"no parser for format {format_name!r}; known: {sorted(PARSERS)}") from None
    module_name, function_name = target.split(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, function_name)


__all__ = ["PARSERS", "ParseError", "ParsedFile", "Parser", "get_parser", "make_record"]
