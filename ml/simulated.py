"""Labeled evaluation frames from the simulator's output, shaped like the warehouse's validated transactions.

Every rendered file is parsed with the project's own parsers and registry options (what the pipeline lands), kept
once per true view (``role`` primary or echo: re-deliveries and broken files are dropped, as dedupe and quarantine
do), converted to the base currency with the dbt seed's rates, and joined to the ground truth: the category and
the anomaly flag of the transaction each row renders. Tests and ``bench/bench_models.py`` use it to train and
score the models on exactly the fields the pipeline sees, without running Postgres and dbt.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .seeds import seed_path

API_SOURCES = ("stripe", "paypal", "billing", "expenses")
FX_SEED = seed_path("fx_rates.csv")


def _path_of(root: Path, api_dir: Path, source: str, file: str) -> Path:
    if source in API_SOURCES:
        return api_dir / file
    if source == "adyen":
        return api_dir / "adyen" / file
    return root / source / file


def _page(source: str, data: bytes) -> bytes:
    """API sources are stored one object per line; the parsers read one page."""
    objects = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    if source == "paypal":
        return json.dumps({"transaction_details": objects}).encode()
    if source == "stripe":
        return json.dumps({"object": "list", "data": objects}).encode()
    return json.dumps(objects).encode()


def fx_rates() -> dict[str, float]:
    with FX_SEED.open(newline="") as handle:
        return {row["currency"]: float(row["rate_to_base"]) for row in csv.DictReader(handle)}


def load_simulated(landing: Path, truth_dir: Path, api_dir: Path | None = None) -> pd.DataFrame:
    """One row per landed view of a true transaction, with the truth's ``category``/``is_anomaly``/``anomaly_kind``.

    Columns follow ``validation.int_transactions__validated``: transaction_id, source, account_id, booked_date,
    amount, currency, amount_base, direction, transaction_type, description (raw), counterparty, reference, extra
    (dict), plus ``txn_id``, ``role``, ``category``, ``is_anomaly``, ``anomaly_kind`` and ``occurred_at`` (the
    API object's creation time where the source has one; see ``api_timestamps``).
    """
    from finflow_assets.sources.parsers import get_parser
    from finflow_assets.sources.registry import get_source

    api_dir = api_dir if api_dir is not None else truth_dir.parent / "api"
    rows = pd.read_csv(truth_dir / "source_rows.csv", dtype=str, keep_default_na=False)
    truth = pd.read_csv(truth_dir / "transactions.csv", dtype=str, keep_default_na=False)
    kept = rows[rows["role"].isin(["primary", "echo"])]
    records = []
    for (source, file), group in kept.groupby(["source", "file"], sort=True):
        spec = get_source(source)
        data = _path_of(landing, api_dir, source, file).read_bytes()
        if source in API_SOURCES:
            data = _page(source, data)
        wanted = dict(zip(group["row"].astype(int), group["txn_id"], strict=True))
        roles = dict(zip(group["row"].astype(int), group["role"], strict=True))
        for record in get_parser(spec.format)(data, file, spec.parser_options).records:
            row = record["row"]
            if row in wanted:
                records.append(
                    {
                        **record,
                        "source": source,
                        "file": file,
                        "txn_id": wanted[row],
                        "role": roles[row],
                    }
                )
    frame = pd.DataFrame.from_records(records)
    frame = frame.merge(
        truth[["txn_id", "category", "is_anomaly", "anomaly_kind"]], on="txn_id", how="left", validate="m:1"
    )
    rates = fx_rates()
    frame["amount"] = pd.to_numeric(frame["amount"]).astype(float)
    frame["currency"] = frame["currency"].fillna("").str.upper()
    frame["amount_base"] = (frame["amount"] * frame["currency"].map(rates)).round(2)
    frame["direction"] = np.select([frame["amount"] > 0, frame["amount"] < 0], ["in", "out"], "none")
    frame["booked_date"] = pd.to_datetime(frame["booked_date"])
    frame["is_anomaly"] = frame["is_anomaly"].astype(int)
    frame["transaction_id"] = frame["source"] + ":" + frame["file"] + ":" + frame["row"].astype(str)
    frame = frame.rename(columns={"account": "account_id"})
    times = api_timestamps(api_dir)
    frame["occurred_at"] = pd.to_datetime(
        frame["external_id"].map(times) if len(times) else pd.Series(pd.NaT, index=frame.index), utc=True
    )
    return frame.sort_values(["booked_date", "source", "file", "row"], kind="stable").reset_index(drop=True)


def api_timestamps(api_dir: Path) -> pd.Series:
    """Creation time (UTC) of each Stripe and PayPal object by its id, read from the rendered API objects.

    The pipeline's parsers keep only the booking day today; this is what they would pass on as
    ``extra.created_at`` / ``extra.initiated_at`` (see the anomaly model's "unusual hour" signal).
    """
    found: dict[str, str] = {}
    stripe = api_dir / "stripe.jsonl"
    if stripe.is_file():
        for line in stripe.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                found[item["id"]] = pd.Timestamp(int(item["created"]), unit="s", tz="UTC").isoformat()
    paypal = api_dir / "paypal.jsonl"
    if paypal.is_file():
        for line in paypal.read_text(encoding="utf-8").splitlines():
            if line.strip():
                info = json.loads(line).get("transaction_info", {})
                if info.get("transaction_id") and info.get("transaction_initiation_date"):
                    found[info["transaction_id"]] = info["transaction_initiation_date"]
    return pd.Series(found, dtype=object)


def load_history_files(folder: Path) -> pd.DataFrame:
    """The user-supplied labeled history CSVs (date, description, amount, currency, category[, source])."""
    files = sorted(folder.glob("*.csv"))
    if not files:
        return pd.DataFrame(columns=["date", "description", "amount", "currency", "category"])
    return pd.concat([pd.read_csv(f, dtype={"description": str}) for f in files], ignore_index=True)
