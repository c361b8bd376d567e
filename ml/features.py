"""Turning transactions into categorizer inputs.

The categorizer reads the fields every source can give (any of them may be missing): the description as the
source wrote it, the counterparty, the signed amount and currency, the source and the source's own transaction
type. Training rows come from places with fewer fields (a user's history file has no counterparty or type; a
ledger line has no bank source), so every field is optional and missing text is the empty string.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORIZER_INPUT_COLUMNS = ("description", "counterparty", "amount", "currency", "source", "transaction_type")
TEXT_COLUMN = "text"
COUNTERPARTY_COLUMN = "party"
CATEGORICAL_COLUMNS = ("source_code", "type_code", "currency_code", "amount_band")
# amount bands (absolute, in the transaction's currency): the model learns e.g. "payroll is large, coffee small"
AMOUNT_EDGES = (1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].astype(object).where(frame[column].notna(), "").astype(str)


def normalize_text(values: pd.Series) -> pd.Series:
    """Upper case, every digit run to one ``0`` (card refs, invoice and store numbers group), whitespace collapsed."""
    return (
        values.astype(str)
        .str.upper()
        .str.replace(r"\d+", "0", regex=True)
        .str.replace(r"\s+", " ", regex=True)
        .str.strip()
    )


def normalize_description(text: str | None) -> str:
    """One description as the model sees it (see :func:`normalize_text`)."""
    if not isinstance(text, str):
        return ""
    return normalize_text(pd.Series([text])).iloc[0]


def _amount_band(amount: pd.Series) -> pd.Series:
    """``out:7`` / ``in:3`` / ``zero``: the direction and the band of the absolute amount."""
    band = np.searchsorted(np.asarray(AMOUNT_EDGES, dtype=float), amount.abs().to_numpy(), side="right")
    direction = np.where(amount.to_numpy() > 0, "in:", np.where(amount.to_numpy() < 0, "out:", "zero"))
    text = pd.Series(direction, index=amount.index, dtype=object) + pd.Series(band.astype(str), index=amount.index)
    return text.where(direction != "zero", "zero")


def categorizer_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Model inputs from raw columns (any of ``CATEGORIZER_INPUT_COLUMNS`` may be absent or null).

    The description falls back to the reference when a source has none (Adyen rows carry only the merchant
    reference); the amount enters as a signed log so direction and size are one feature the model bins.
    """
    description = _text(frame, "description")
    reference = _text(frame, "reference")
    description = description.where(description.str.strip() != "", reference)
    amount = (
        pd.to_numeric(frame["amount"], errors="coerce").fillna(0.0).astype(float)
        if "amount" in frame.columns
        else pd.Series(0.0, index=frame.index)
    )
    return pd.DataFrame(
        {
            # "~" keeps each vocabulary non-empty when a training set lacks the field altogether
            TEXT_COLUMN: "~ " + normalize_text(description),
            COUNTERPARTY_COLUMN: "~ " + normalize_text(_text(frame, "counterparty")),
            "source_code": _text(frame, "source").str.lower(),
            "type_code": _text(frame, "transaction_type").str.lower().str.strip(),
            "currency_code": _text(frame, "currency").str.upper(),
            "amount_band": _amount_band(amount),
        },
        index=frame.index,
    )


def categorizer_input(frame: pd.DataFrame) -> pd.DataFrame:
    """The raw input frame the registered model takes: exactly ``CATEGORIZER_INPUT_COLUMNS``, missing ones empty.

    Text columns are plain ``object`` strings and the amount a float, so the MLflow signature stays stable
    whatever source the rows came from.
    """
    out = pd.DataFrame(index=frame.index)
    for column in CATEGORIZER_INPUT_COLUMNS:
        if column == "amount":
            out[column] = pd.to_numeric(frame[column], errors="coerce").astype(float) if column in frame else 0.0
        else:
            out[column] = _text(frame, column)
    if "reference" in frame.columns:  # only used where the description is empty (see categorizer_features)
        description = out["description"]
        out["description"] = description.where(description.str.strip() != "", _text(frame, "reference"))
    return out
