"""The analysts' categorization rules (``dbt_project/seeds/categorization_rules.csv``) applied to a frame.

The warehouse applies them in SQL (``int_transactions__rule_categorized``); this is the same logic for files
categorized outside it (``finflow categorize``): a rule matches when its ``source`` and ``transaction_type`` (if
set) equal the row's (type case-insensitively) and its ``pattern`` (if set) is found, case-insensitively, in the
description and counterparty joined by a space; per row the matching rule with the lowest ``priority`` (then
``rule_id``) wins.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .seeds import seed_path

RULES_SEED = seed_path("categorization_rules.csv")
RULE_COLUMNS = ("rule_id", "priority", "category", "source", "transaction_type", "pattern")


def load_rules(path: Path = RULES_SEED) -> pd.DataFrame:
    rules = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = set(RULE_COLUMNS) - set(rules.columns)
    if missing:
        raise ValueError(f"{path}: rules lack columns {sorted(missing)}")
    rules["priority"] = pd.to_numeric(rules["priority"])
    return rules.sort_values(["priority", "rule_id"], kind="stable").reset_index(drop=True)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[name].astype(object).where(frame[name].notna(), "").astype(str)


def apply_rules(frame: pd.DataFrame, rules: pd.DataFrame | None = None) -> pd.DataFrame:
    """``category`` and ``rule_id`` of the winning rule per row (empty strings where no rule matches)."""
    rules = load_rules() if rules is None else rules
    source = _column(frame, "source").to_numpy(dtype=object)
    kind = _column(frame, "transaction_type").str.lower().to_numpy(dtype=object)
    description, counterparty = _column(frame, "description"), _column(frame, "counterparty")
    text = (
        (description + " " + counterparty).where(counterparty != "", description).where(description != "", counterparty)
    )
    category = np.full(len(frame), "", dtype=object)
    rule_id = np.full(len(frame), "", dtype=object)
    open_rows = np.ones(len(frame), dtype=bool)
    for rule in rules.itertuples(index=False):  # in priority order: the first match wins
        match = open_rows.copy()
        if rule.source:
            match &= source == rule.source
        if rule.transaction_type:
            match &= kind == rule.transaction_type.lower()
        if rule.pattern and match.any():
            pattern = re.compile(rule.pattern, re.IGNORECASE)
            candidates = np.flatnonzero(match)
            found = [pattern.search(value) is not None for value in text.to_numpy(dtype=object)[candidates]]
            match[candidates[~np.asarray(found, dtype=bool)]] = False
        category[match] = rule.category
        rule_id[match] = rule.rule_id
        open_rows &= ~match
    return pd.DataFrame({"category": category, "rule_id": rule_id}, index=frame.index)
