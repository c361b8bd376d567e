"""The simulated API server: each source's pagination, auth, reloads, and the injectable faults.

Also holds the small dataset builders (shapes from ``finflow_simulator.api_objects``) the connector tests reuse.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from finflow_simulator.api_server import FaultConfig, append_jsonl, serve

START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 5
ADYEN_HEADER = (
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
    "Batch Number",
)


# ----------------------------------------------------------------------------------------- dataset builders


def _moment(rng: random.Random, start: datetime, days: int) -> datetime:
    return start + timedelta(seconds=rng.randrange(int(timedelta(days=days).total_seconds())))


def stripe_object(i: int, created: datetime, rng: random.Random, tag: str = "") -> dict[str, Any]:
    kind = rng.choice(("charge", "charge", "charge", "refund", "stripe_fee", "payout"))
    amount = rng.randrange(100, 500_000) * (1 if kind == "charge" else -1)
    return {
        "id": f"txn_{tag}{i:06d}",
        "object": "balance_transaction",
        "amount": amount,
        "currency": "usd",
        "created": int(created.timestamp()),
        "available_on": int((created + timedelta(days=2)).timestamp()),
        "description": f"Invoice {i:04X}",
        "fee": 30 if kind == "charge" else 0,
        "net": amount - (30 if kind == "charge" else 0),
        "reporting_category": kind,
        "source": f"ch_{tag}{i:06d}",
        "status": "available",
        "type": kind,
        "payout": f"po_{i // 50:04d}",
    }


def paypal_object(i: int, moment: datetime, rng: random.Random, tag: str = "") -> dict[str, Any]:
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S+0000")
    value = rng.randrange(100, 90_000)
    return {
        "transaction_info": {
            "transaction_id": f"PP{tag}{i:08d}",
            "transaction_event_code": "T0006",
            "transaction_initiation_date": stamp,
            "transaction_updated_date": stamp,
            "transaction_amount": {"currency_code": "USD", "value": f"{value / 100:.2f}"},
            "fee_amount": {"currency_code": "USD", "value": f"-{value * 3 // 10000 / 100:.2f}"},
            "transaction_status": "S",
            "transaction_subject": f"Order {i}",
            "invoice_id": f"INV-{i}",
        },
        "payer_info": {"account_id": "SWMG7TDC7XGR2", "payer_name": {"alternate_full_name": "Globex Inc"}},
    }


def billing_object(i: int, moment: datetime, rng: random.Random, tag: str = "") -> dict[str, Any]:
    refund = rng.random() < 0.1
    amount = f"{rng.randrange(1_000, 2_000_000) / 100:.2f}"
    return {
        "id": f"pay_{tag}{i:06d}",
        "object": "payment",
        "invoice_id": f"INV-{20000 + i}",
        "invoice_amount": amount,
        "invoice_issued_on": (moment - timedelta(days=20)).date().isoformat(),
        "invoice_due_on": (moment + timedelta(days=10)).date().isoformat(),
        "customer": {"id": f"cus_{i % 40}", "name": f"Customer {i % 40}"},
        "amount": f"-{amount}" if refund else amount,
        "currency": "USD",
        "kind": "refund" if refund else "payment",
        "method": rng.choice(("wire", "ach", "card", "check")),
        "received_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": (moment + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reference": f"WIRE REF {i} INV-{20000 + i}",
    }


def expenses_object(i: int, moment: datetime, rng: random.Random, tag: str = "") -> dict[str, Any]:
    return {
        "id": f"exp_{tag}{i:06d}",
        "card": {"last4": "4242", "holder": "Jane Doe"},
        "merchant": {"name": rng.choice(("UNITED AIRLINES", "AWS", "STAPLES")), "mcc": "3000"},
        "amount": {"amount": rng.randrange(100, 200_000), "currency": "USD"},
        "type": "refund" if rng.random() < 0.1 else "purchase",
        "posted_at": moment.date().isoformat(),
        "updated_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "memo": f"Expense {i}",
        "status": "posted",
    }


BUILDERS = {"stripe": stripe_object, "paypal": paypal_object, "billing": billing_object, "expenses": expenses_object}


def object_id(source: str, obj: dict[str, Any]) -> str:
    return obj["transaction_info"]["transaction_id"] if source == "paypal" else obj["id"]


def make_objects(
    source: str, count: int, *, start: datetime = START, days: int = DAYS, seed: int = 1, tag: str = "", first: int = 0
) -> list[dict[str, Any]]:
    """``count`` objects of a source spread at random over ``days`` days from ``start``."""
    rng = random.Random(seed)
    return [BUILDERS[source](first + i, _moment(rng, start, days), rng, tag) for i in range(count)]


def adyen_report(batch: int, rows: int, *, day: date | None = None) -> bytes:
    """A small settlement details report: ``rows`` payments and the closing payout."""
    day = day or START.date()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ADYEN_HEADER)
    total = 0
    for i in range(rows):
        gross = 1000 + 37 * i + batch
        net = gross - 30
        total += net
        created = f"{day.isoformat()} 10:{i % 60:02d}:00"
        psp = f"88{batch:04d}{i:06d}"
        writer.writerow(
            ("Acme", "AcmeEU", psp, f"ORD-{batch}-{i}", "visa", created, "CET", "Settled", "", "EUR", "",
             f"{gross / 100:.2f}", "1", "EUR", "", f"{net / 100:.2f}", "0.30", str(batch))
        )  # fmt: skip
    writer.writerow(
        ("Acme", "AcmeEU", "", "", "", f"{day.isoformat()} 23:00:00", "CET", "MerchantPayout", "", "", "", "", "",
         "EUR", f"{total / 100:.2f}", "", "", str(batch))
    )  # fmt: skip
    return buffer.getvalue().encode()


def write_dataset(api_dir: Path, counts: dict[str, int], *, seed: int = 1, tag: str = "") -> dict[str, list[str]]:
    """Write ``<source>.jsonl`` files (and ``adyen`` reports: counts["adyen"] reports) and return each source's ids."""
    ids: dict[str, list[str]] = {}
    for source, count in counts.items():
        if source == "adyen":
            folder = api_dir / "adyen"
            folder.mkdir(parents=True, exist_ok=True)
            for batch in range(1, count + 1):
                (folder / f"settlement_detail_report_batch_{batch}.csv").write_bytes(adyen_report(batch, 12))
            continue
        objects = make_objects(source, count, seed=seed, tag=tag)
        append_jsonl(api_dir, source, objects)
        ids[source] = [object_id(source, o) for o in objects]
    return ids


# ----------------------------------------------------------------------------------------- tests


@pytest.fixture
def api_dir(tmp_path: Path) -> Path:
    write_dataset(tmp_path, {"stripe": 230, "paypal": 200, "billing": 210, "expenses": 190, "adyen": 2})
    return tmp_path


def test_binds_loopback_only_and_requires_the_token(api_dir: Path) -> None:
    with pytest.raises(ValueError, match="loopback"), serve(api_dir, host="0.0.0.0"):
        pass
    with serve(api_dir, tokens={"stripe": "s3cret-token"}) as server, httpx.Client(base_url=server.url) as client:
        assert server.url.startswith("http://127.0.0.1:")
        assert client.get("/stripe/v1/balance_transactions").status_code == 401
        wrong = client.get("/stripe/v1/balance_transactions", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "nope" not in wrong.text and "s3cret" not in wrong.text
        good = client.get("/stripe/v1/balance_transactions", headers={"Authorization": "Bearer s3cret-token"})
        assert good.status_code == 200
        assert (
            client.get("/paypal/v1/reporting/transactions", headers=server.auth_headers("paypal")).status_code == 400
        )  # no dates
        assert client.get("/nowhere/v1/x").status_code == 404
        assert server.requests["unauthorized"] == 2 and server.requests["ok"] == 1
        assert server.env()["FINFLOW_STRIPE_API_URL"] == f"{server.url}/stripe"


def test_stripe_pages_newest_first_with_starting_after_and_created_filter(api_dir: Path) -> None:
    objects = [json.loads(line) for line in (api_dir / "stripe.jsonl").read_text().splitlines()]
    with serve(api_dir) as server, httpx.Client(base_url=server.url, headers=server.auth_headers("stripe")) as client:
        seen, after = [], None
        while True:
            params = {"limit": 50} | ({"starting_after": after} if after else {})
            body = client.get("/stripe/v1/balance_transactions", params=params).json()
            assert body["object"] == "list" and len(body["data"]) <= 50
            seen += body["data"]
            if not body["has_more"]:
                break
            after = body["data"][-1]["id"]
        assert sorted(o["id"] for o in seen) == sorted(o["id"] for o in objects)  # each exactly once
        keys = [(o["created"], o["id"]) for o in seen]
        assert keys == sorted(keys, reverse=True)
        cutoff = sorted(o["created"] for o in objects)[150]
        recent = client.get("/stripe/v1/balance_transactions", params={"limit": 100, "created[gte]": cutoff}).json()
        assert len(recent["data"]) == sum(o["created"] >= cutoff for o in objects) and not recent["has_more"]
        unknown = client.get("/stripe/v1/balance_transactions", params={"starting_after": "txn_nope"})
        assert unknown.status_code == 404 and "txn_nope" in unknown.text
        assert client.get("/stripe/v1/balance_transactions", params={"limit": 101}).status_code == 400


def test_paypal_windows_are_half_open_and_at_most_31_days(api_dir: Path) -> None:
    with serve(api_dir) as server, httpx.Client(base_url=server.url, headers=server.auth_headers("paypal")) as client:
        path = "/paypal/v1/reporting/transactions"
        too_long = client.get(path, params={"start_date": "2026-09-01T00:00:00Z", "end_date": "2026-10-03T00:00:00Z"})
        assert too_long.status_code == 400 and "31 days" in too_long.text
        seen = []
        for day in range(DAYS):
            start, end = START + timedelta(days=day), START + timedelta(days=day + 1)
            page, pages = 1, 1
            while page <= pages:
                params = {
                    "start_date": start.strftime("%Y-%m-%dT%H:%M:%S+0000"),
                    "end_date": end.strftime("%Y-%m-%dT%H:%M:%S+0000"),
                    "page": page,
                    "page_size": 15,
                }
                body = client.get(path, params=params).json()
                pages = body["total_pages"]
                seen += [d["transaction_info"]["transaction_id"] for d in body["transaction_details"]]
                page += 1
        assert len(seen) == len(set(seen)) == 200


def test_billing_cursor_and_updated_since(api_dir: Path) -> None:
    with serve(api_dir) as server, httpx.Client(base_url=server.url, headers=server.auth_headers("billing")) as client:
        seen, cursor = [], None
        while True:
            body = client.get("/billing/v1/payments", params={"limit": 40} | ({"cursor": cursor} if cursor else {}))
            body = body.json()
            seen += body["data"]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len({o["id"] for o in seen}) == 210
        assert [o["updated_at"] for o in seen] == sorted(o["updated_at"] for o in seen)
        since = seen[150]["updated_at"]
        later = client.get("/billing/v1/payments", params={"updated_since": since, "limit": 500}).json()
        assert {o["id"] for o in later["data"]} == {o["id"] for o in seen if o["updated_at"] >= since}
        assert client.get("/billing/v1/payments", params={"cursor": "garbage"}).status_code == 400


def test_expenses_date_range_is_inclusive(api_dir: Path) -> None:
    objects = [json.loads(line) for line in (api_dir / "expenses.jsonl").read_text().splitlines()]
    with serve(api_dir) as server, httpx.Client(base_url=server.url, headers=server.auth_headers("expenses")) as client:
        body = client.get(
            "/expenses/v1/transactions",
            params={"posted_from": "2026-10-02", "posted_to": "2026-10-03", "page_size": 500},
        ).json()
        expected = {o["id"] for o in objects if "2026-10-02" <= o["posted_at"] <= "2026-10-03"}
        assert {o["id"] for o in body["data"]} == expected and body["total_items"] == len(expected)
        page2 = client.get("/expenses/v1/transactions", params={"page": 2, "page_size": 100}).json()
        assert len(page2["data"]) == 90 and page2["total_pages"] == 2


def test_adyen_reports_listed_and_downloaded_with_checksum(api_dir: Path) -> None:
    with serve(api_dir) as server, httpx.Client(base_url=server.url, headers=server.auth_headers("adyen")) as client:
        listing = client.get("/adyen/reports").json()["data"]
        assert [r["name"] for r in listing] == [f"settlement_detail_report_batch_{b}.csv" for b in (1, 2)]
        report = client.get(f"/adyen{listing[0]['url']}")
        assert report.status_code == 200 and report.content == (api_dir / "adyen" / listing[0]["name"]).read_bytes()
        assert report.headers["X-Content-SHA256"] == listing[0]["sha256"]
        assert client.get("/adyen/reports/..%2Fstripe.jsonl").status_code == 404
        assert client.get("/adyen/reports/missing.csv").status_code == 404


def test_appended_and_rewritten_jsonl_are_reloaded(api_dir: Path) -> None:
    with serve(api_dir) as server, httpx.Client(base_url=server.url, headers=server.auth_headers("expenses")) as client:

        def total() -> int:
            return client.get("/expenses/v1/transactions").json()["total_items"]

        assert total() == 190
        later = make_objects("expenses", 25, start=START + timedelta(days=DAYS), days=1, tag="late")
        append_jsonl(api_dir, "expenses", later)
        assert total() == 215
        # a line still being written is not served half-read
        with (api_dir / "expenses.jsonl").open("a") as handle:
            handle.write(json.dumps(make_objects("expenses", 1, tag="partial")[0])[:40])
        assert total() == 215
        # a changed object (same id) replaces the old version
        (api_dir / "expenses.jsonl").write_text(
            "".join(json.dumps(o | {"memo": "edited"}) + "\n" for o in later[:5] + later[:5])
        )
        body = client.get("/expenses/v1/transactions").json()
        assert body["total_items"] == 5 and {o["memo"] for o in body["data"]} == {"edited"}


def test_scripted_faults_then_seeded_random_faults(api_dir: Path) -> None:
    faults = FaultConfig(
        script=("rate_limit", "server_error", "truncate", "truncate", "truncate", "truncate", "slow", "ok"),
        retry_after=0.25,
        slow_seconds=1.0,
    )
    with (
        serve(api_dir, faults) as server,
        httpx.Client(base_url=server.url, headers=server.auth_headers("billing")) as client,
    ):
        limited = client.get("/billing/v1/payments")
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "0.25"
        assert client.get("/billing/v1/payments").status_code in (500, 502, 503)
        broken = 0
        for _ in range(4):  # a cut body: status 200 either with invalid JSON or an incomplete transfer
            try:
                response = client.get("/billing/v1/payments")
            except httpx.RemoteProtocolError:
                broken += 1
                continue
            assert response.status_code == 200
            with pytest.raises(json.JSONDecodeError):
                json.loads(response.content)
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.get("/billing/v1/payments", timeout=0.2)
        assert time.monotonic() - started < 0.9
        assert client.get("/billing/v1/payments").status_code == 200
        counts = server.requests
        assert (counts["rate_limit"], counts["server_error"], counts["truncate"], counts["slow"]) == (1, 1, 4, 1)

        server.set_outage("billing")
        assert [client.get("/billing/v1/payments").status_code for _ in range(3)] == [503] * 3
        assert client.get("/expenses/v1/transactions", headers=server.auth_headers("expenses")).status_code == 200
        server.set_outage("billing", False)
        assert client.get("/billing/v1/payments").status_code == 200
        assert server.requests["outage"] == 3

    def outcomes(seed: int) -> list[int]:
        config = FaultConfig(seed=seed, rate_limit=0.2, server_error=0.2, retry_after=0)
        with (
            serve(api_dir, config) as server,
            httpx.Client(base_url=server.url, headers=server.auth_headers("stripe")) as client,
        ):
            return [client.get("/stripe/v1/balance_transactions").status_code for _ in range(40)]

    first = outcomes(3)
    assert first == outcomes(3) and first != outcomes(4)  # seeded: the same run fails the same way
    assert {429, 200} <= set(first)
