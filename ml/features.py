"""Turning transactions into model inputs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

TEXT_COLUMN = "text"
NUMERIC_COLUMNS = ("log_abs_amount", "is_inflow", "is_round")
CATEGORIZER_INPUT_COLUMNS = ("description", "amount")

_DIGITS = re.compile(r"\d{3,}")
_SPACES = re.compile(r"\s+")


def normalize_description(text: str | None) -> str:
    """Upper case, long digit runs (card refs, store numbers) masked, whitespace collapsed."""
    if not isinstance(text, str):
        return ""
    return _SPACES.sub(" ", _DIGITS.sub("#", text.upper())).strip()


def categorizer_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Model inputs from raw ``description`` and signed ``amount`` columns."""
    amount = pd.to_numeric(frame["amount"], errors="coerce").fillna(0.0).astype(float)
    return pd.DataFrame(
        {
            TEXT_COLUMN: frame["description"].map(normalize_description),
            "log_abs_amount": np.log1p(amount.abs()),
            "is_inflow": (amount > 0).astype(float),
            "is_round": ((amount.abs() % 100) == 0).astype(float),
        },
        index=frame.index,
    )
