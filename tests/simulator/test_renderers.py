"""The format writers on hand-made statements: the edge cases real banks' files have."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest

from finflow_assets.sources.parsers import get_parser
from finflow_assets.sources.registry import get_source
from finflow_simulator import api_objects
from finflow_simulator.bai2 import render_bai2
from finflow_simulator.bank_csv import render_bank_csv
from finflow_simulator.camt053 import render_camt053
from finflow_simulator.model import Line, Template, Txn, money, money_comma, money_thousands
from finflow_simulator.mt940 import WIDTH, _wrap, details, render_mt940
from finflow_simulator.ofx import render_ofx
from finflow_simulator.statement import AccountDay

from .conftest import SimRun

DAY = date(2026, 10, 5)
AT = datetime(2026, 10, 5, 21, 5)


def _line(cents: int, description: str, **kwargs) -> Line:
    txn = Txn("T1", DAY, cents, "USD", "X", description, "uncategorized")
    return Line(txn, cents, DAY, description, **kwargs)


def _parse(source: str, data: bytes, name: str) -> list[dict]:
    spec = get_source(source)
    return get_parser(spec.format)(data, name, spec.parser_options).records


@pytest.mark.parametrize("cents", [0, 1, -1, 5, 99, 100, -100, 123456, -123456789, 10**13 + 7])
def test_money_formats(cents: int) -> None:
    assert Decimal(money(cents)) == Decimal(cents) / 100
    assert Decimal(money_thousands(cents).replace(",", "")) == abs(Decimal(cents)) / 100
    assert Decimal(money_comma(cents).replace(",", ".")) == abs(Decimal(cents)) / 100


def test_template_placeholders() -> None:
    import random

    text = Template("X {n4}-{a3} {mmdd} {city}").fill(random.Random(1), DAY)
    head, number, rest = text.split(" ", 2)
    assert head == "X" and number[:4].isdigit() and number[4] == "-" and rest.startswith("1005 ")
    with pytest.raises(ValueError):
        Template("{bogus}")


def test_bank_csv_negative_balance_in_parentheses() -> None:
    lines = [_line(-150_000_00, 'WIRE OUT, ACME "LLC"'), _line(2_50, "REFUND")]
    data, rows, closing = render_bank_csv(lines, 100_000_00)
    assert b"(50,000.00)" in data and closing == -49_997_50
    records = _parse("bank_operating", data, "x.csv")
    assert [r["row"] for r in records] == rows == [2, 3]
    assert [r["amount"] for r in records] == ["-150000.00", "2.50"]
    assert records[0]["balance_after"] == "-50000.00" and records[0]["description"] == 'WIRE OUT, ACME "LLC"'


def test_ofx_escapes_markup_and_keeps_cp1252() -> None:
    lines = [_line(-12_34, "PG&E/EZ-PAY <web> Café", counterparty="PG&E", bank_ref="F1", code="ach")]
    statement = AccountDay("987654321", "USD", DAY, 5_00, lines, bank_id="021000021")
    data, rows = render_ofx([statement], server_time=AT)
    assert b"PG&amp;E" in data and "Café".encode("cp1252") in data
    records = _parse("bank_payroll", data, "x.qfx")
    assert records[0]["description"] == "PG&E/EZ-PAY <web> Café" and records[0]["row"] == rows[0]
    assert records[0]["amount"] == "-12.34" and records[0]["counterparty"] == "PG&E"


def test_mt940_wrap_never_ends_a_line_with_a_space() -> None:
    text = details(eref="E1", name="Bäckerei Müller GmbH", remittance="x" * 50 + " " * 1 + "y" * 70, direction_in=False)
    for chunk in _wrap(text):
        assert len(chunk) <= WIDTH and not chunk.endswith(" ")
    assert "".join(_wrap(text)) == text
    tricky = "/REMI/" + "a" * (WIDTH - 7) + " b c"  # a space exactly at the cut
    lines = [_line(-1_00, text, bank_ref="B1"), _line(2_00, tricky, bank_ref="B2")]
    eur = AccountDay("DE89370400440532013000", "EUR", DAY, 0, lines)
    data, rows = render_mt940([eur], created=AT)
    records = _parse("bank_eu", data, "x.sta")
    assert [r["description"] for r in records] == [text, tricky]
    assert [r["row"] for r in records] == rows and [r["amount"] for r in records] == ["-1.00", "2.00"]
    assert "Müller".encode("latin-1") in data


def test_camt053_escapes_and_balances() -> None:
    lines = [_line(-7_00, "Fees & <charges>", counterparty="Bank & Co", bank_ref="R1", code="fee"), _line(3_00, "In")]
    first = AccountDay("4410012345", "USD", DAY, 10_00, lines, bank_id="SVBKUS6S")
    second = AccountDay("4410067890", "USD", DAY, -5_00, [_line(1_00, "Interest", code="interest")])
    data, rows = render_camt053([first, second], created=AT, message_id="M1")
    spec = get_source("bank_treasury")
    parsed = get_parser(spec.format)(data, "x.xml", spec.parser_options)
    assert [r["row"] for r in parsed.records] == rows == [1, 2, 3]
    assert parsed.records[0]["description"] == "Fees & <charges>" and parsed.records[0]["counterparty"] == "Bank & Co"
    closing = [s["closing_balance"] for s in parsed.statements]
    assert closing == ["6.00", "-4.00"]


def test_bai2_control_totals_and_counts() -> None:
    lines = [
        _line(150_00, "LOCKBOX CHECK 1 A INV-1", code="check", reference="1", bank_ref="9"),
        _line(-2_50, "FEE", code="fee"),
    ]
    statement = AccountDay("1000123451", "USD", DAY, 0, lines)
    empty = AccountDay("1000123452", "USD", DAY, 7_00, [])
    data, rows = render_bai2([statement, empty], created=AT, sender="S", receiver="R", file_id="1")
    text = data.decode().splitlines()
    assert text[-1] == f"99,{sum(int(rec.split(',')[1]) for rec in text if rec.startswith('49'))},1,{len(text)}/"
    parsed = get_parser("bai2")(data, "x.bai", {"verify_trailer_counts": True})
    assert [r["amount"] for r in parsed.records] == ["150.00", "-2.50"] and [r["row"] for r in parsed.records] == rows
    assert [s["closing_balance"] for s in parsed.statements] == ["147.50", "7.00"]


def _keys(value: object) -> object:
    if isinstance(value, dict):
        return {key: _keys(item) for key, item in value.items()}
    return None


@pytest.mark.parametrize(
    ("source", "contract"),
    [
        ("stripe", api_objects.STRIPE_BALANCE_TRANSACTION),
        ("paypal", api_objects.PAYPAL_TRANSACTION_DETAIL),
        ("billing", api_objects.BILLING_PAYMENT),
        ("expenses", api_objects.EXPENSES_TRANSACTION),
    ],
)
def test_api_objects_have_the_contract_shape_and_are_canonical_json(sim: SimRun, source: str, contract: dict) -> None:
    shape = _keys(contract)
    for text in (sim.api / f"{source}.jsonl").read_text(encoding="utf-8").splitlines():
        obj = json.loads(text)
        assert json.dumps(obj, ensure_ascii=False, separators=(",", ":")) == text
        if source == "paypal" and "invoice_id" not in obj["transaction_info"]:  # refunds, withdrawals: none
            obj["transaction_info"]["invoice_id"] = ""
        assert _keys(obj) == shape
