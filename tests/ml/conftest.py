"""One small simulated company shared by the ML tests: a few business days of every source plus labeled history,
parsed with the project's own parsers and joined to the ground truth (see ``ml.simulated``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from finflow_simulator import generate

DAYS, PER_DAY, HISTORY_DAYS, SEED = 10, 1500, 12, 5


@dataclass
class SimulatedData:
    root: Path
    frame: pd.DataFrame  # every landed view (primary and echo) with truth
    history: pd.DataFrame  # the history file (date, description, amount, currency, category, source)

    @property
    def primary(self) -> pd.DataFrame:
        """One row per true transaction (its primary view): what fct_transactions holds once echoes are deduped."""
        return self.frame[self.frame["role"] == "primary"]

    def ledger_labeled(self) -> pd.DataFrame:
        """The rows the ledger labels: each payment a ledger line mirrors, with the ledger's category (in the
        warehouse: the ledger line's ``duplicate_of`` row)."""
        mirrored = set(self.frame.loc[self.frame["source"] == "erp_gl", "txn_id"])
        rows = self.primary[self.primary["txn_id"].isin(mirrored)]
        return rows.assign(date=rows["booked_date"])[
            [
                "date",
                "description",
                "counterparty",
                "reference",
                "amount",
                "currency",
                "source",
                "transaction_type",
                "category",
            ]
        ]

    def labeled_history(self) -> pd.DataFrame:
        """What the categorizer asset trains on: the history file plus the ledger-labeled payments."""
        return pd.concat([self.history, self.ledger_labeled()], ignore_index=True)


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> SimulatedData:
    from ml.simulated import load_history_files, load_simulated

    root = tmp_path_factory.mktemp("mlsim")
    generate(
        root / "landing",
        root / "truth",
        days=DAYS,
        per_day=PER_DAY,
        seed=SEED,
        history_dir=root / "history",
        history_days=HISTORY_DAYS,
    )
    frame = load_simulated(root / "landing", root / "truth", root / "api")
    return SimulatedData(root, frame, load_history_files(root / "history"))


@pytest.fixture
def tracking_uri(tmp_path: Path) -> tuple[str, str]:
    """A fresh MLflow SQLite store (tracking and registry) and artifact root in a temporary folder."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}", (tmp_path / "artifacts").as_uri()
