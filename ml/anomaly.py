"""The anomaly model: finance signals a controller would check, an IsolationForest for unusual combinations, one
score in [0, 1] per transaction and the reasons behind it.

Every signal compares a transaction with the history *before* it (the warehouse's earlier transactions plus the
earlier rows of the batch), so the model object itself holds no per-counterparty state and never goes stale:

====================  ===========================================================================================
``amount_spike``      amount above the usual range of its counterparty (or, with little history, of its
                      category and source, else of its source): ratio to the 98th percentile of earlier amounts;
                      or, with hundreds of earlier amounts, above the largest of them (a record); or far above the
                      counterparty's own habit: several times the median of its (ten or more) earlier payments, a
                      high robust z-score on log amounts and well above the largest of them (a customer who always
                      pays about 40.00 paying 400.00, an ordinary amount for the category)
``new_counterparty``  money out to a vendor with fewer than two earlier (unflagged) payments, with a large amount
                      (above the 95th percentile of its source's payments or of its category, the lower)
``duplicate``         same payee, amount, description (and card) as a payment in the previous days, where a chance
                      match is unlikely (few payments under that key, an amount with cents)
``recurring_drift``   a bill whose two previous payments had the same amount (a recurring bill) comes in different,
                      or a bill text several contracts share, whose payments repeat a few fixed amounts, comes in
                      at an amount never seen on it
``round_amount``      a round amount (>= 1,000, whole hundreds) where the payee and the category rarely see one
``weekend``           booked on a Saturday or Sunday by a source that almost never books on weekends
``unusual_hour``      created at an hour of day its source almost never sees (needs ``occurred_at``)
``velocity``          many payments to one payee on one day against its usual daily count
``forest``            the IsolationForest's isolation depth over the numeric features, as a tail probability
====================  ===========================================================================================

Each fired signal gives an evidence level in [0, 1]; the score is their noisy-OR, ``1 - prod(1 - evidence)``. The
evidence levels are set from the precision each signal reached on its own on simulated validation days, so a
score reads as "probability this needs a look": one strong signal (>= 0.95, the default review threshold) or two
moderate ones put a transaction in the queue; a lone weak one (a Saturday card purchase at a merchant that does
trade on weekends) does not.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest

DEFAULT_THRESHOLD = 0.95
THRESHOLD_ENV = "FINFLOW_ANOMALY_THRESHOLD"

ANOMALY_INPUT_COLUMNS = (
    "transaction_id",
    "source",
    "booked_date",
    "occurred_at",
    "amount",
    "amount_base",
    "currency",
    "description",
    "counterparty",
    "category",
    "instrument",
)
SIGNALS = (
    "amount_spike",
    "new_counterparty",
    "duplicate",
    "recurring_drift",
    "round_amount",
    "weekend",
    "unusual_hour",
    "velocity",
    "forest",
)
FOREST_FEATURES = (
    "log_amount",
    "log_range_ratio",
    "log_category_ratio",
    "log_prior_payments",
    "log_velocity_ratio",
    "drift",
    "hour_rarity",
)
# Types beyond skops' defaults that a fitted detector holds (loading accepts these and nothing else).
SKOPS_TRUSTED_TYPES = ["ml.anomaly.AnomalyDetector", "sklearn.tree._tree.Tree"]

# money out that is not a payment to a third-party vendor: new payees there are normal (a refund to a new customer,
# a new hire's pay) or are the company's own accounts
NOT_VENDOR_CATEGORIES = frozenset(
    {
        "revenue_card_sales",
        "revenue_invoice_payment",
        "refund_chargeback",
        "payroll",
        "payroll_tax",
        "tax",
        "loan_financing",
        "internal_transfer",
        "payout_settlement",
        "bank_fee_interest",
    }
)
MIN_BASELINE = 30  # earlier payments a group needs before its amounts count as a baseline
DUPLICATE_WINDOW_DAYS = 5  # a repeat of the same payment within this many days (a business week)
_EREF = r"/EREF/[^/]*"  # SEPA end-to-end ids: unique per transfer, not part of what was paid


def configured_threshold() -> float:
    """The review threshold: ``FINFLOW_ANOMALY_THRESHOLD`` if set, else 0.95."""
    value = os.environ.get(THRESHOLD_ENV)
    if not value:
        return DEFAULT_THRESHOLD
    threshold = float(value)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"{THRESHOLD_ENV}={value!r} must be in (0, 1]")
    return threshold


def _ramp(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """0 at or below ``low``, 1 at or above ``high``, linear between (NaN counts as 0)."""
    return np.clip((np.nan_to_num(x, nan=-np.inf) - low) / (high - low), 0.0, 1.0)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype=str)
    return frame[column].fillna("").astype(str)  # (fill first: pandas 2 turns NaN into "nan")


_SPACES = re.compile(r"\s+")
_EREF_RE = re.compile(_EREF)
_TRAILING = re.compile(r"[^\w&]+$")


def _per_unique(values: pd.Series, function: Callable[[str], object]) -> np.ndarray:
    """``function`` applied once per distinct value (descriptions repeat a lot), mapped back to every row."""
    codes, uniques = pd.factorize(values)  # on the column itself: no Python string per row
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [function(value) for value in uniques]
    mapped[-1] = function("")
    return mapped[codes]


def _clean_description(text: str) -> str:
    return _SPACES.sub(" ", _EREF_RE.sub(" ", text.upper())).strip()


def _clean_party(text: str) -> str:
    return _TRAILING.sub("", _SPACES.sub(" ", text.upper()).strip())


def _codes(*arrays: np.ndarray) -> np.ndarray:
    """One integer code per distinct combination of the given code/value arrays."""
    key = pd.factorize(arrays[0])[0].astype(np.int64)
    for array in arrays[1:]:
        other = pd.factorize(array)[0].astype(np.int64)
        key = pd.factorize(key * (int(other.max(initial=0)) + 2) + other + 1)[0].astype(np.int64)
    return key


_DIGITLESS_WORD = re.compile(r"(?<!\S)[^\s0-9]+(?!\S)")  # a whole word (as str.split finds it) with no 0-9 in it


def _words_without_digits(text: str) -> list[str]:
    """``text``'s words that contain no digit (``str.isdigit``): one regex pass where the text is ASCII (then a digit
    is 0-9), word by word otherwise."""
    if text.isascii():
        return _DIGITLESS_WORD.findall(text)
    return [w for w in text.split() if not any(ch.isdigit() for ch in w)]


def clean_descriptions(frame: pd.DataFrame) -> np.ndarray:
    """The descriptions as the signals compare them: upper case, spaces collapsed, SEPA end-to-end ids out."""
    return _per_unique(_text(frame, "description"), _clean_description)


def description_words(description: str) -> set[str]:
    """The words of a cleaned description that can name a payee (no digits): what ``counterparty_keys`` counts."""
    return set(_words_without_digits(description))


def counterparty_keys(
    frame: pd.DataFrame, descriptions: np.ndarray | None = None, word_counts: Mapping[str, int] | None = None
) -> np.ndarray:
    """Who was paid, as a stable key: the counterparty name where the source gives one, else the description's
    first three words once numbers and one-off codes (words found in a single distinct description) are dropped.
    ``descriptions``: the already cleaned descriptions (upper case, spaces collapsed, SEPA end-to-end ids out).
    ``word_counts``: in how many distinct descriptions (of rows without a counterparty) of the whole context each
    word appears, when the frame is only part of it (an incremental tick; a word missing counts once); by default
    counted in the frame itself."""
    party = _per_unique(_text(frame, "counterparty"), _clean_party)
    if descriptions is None:
        descriptions = clean_descriptions(frame)
    missing = party == ""
    if missing.any():
        inverse, uniques = pd.factorize(descriptions[missing])  # (np.unique would copy them to fixed-width text)
        words = [_words_without_digits(text) for text in uniques]
        if word_counts is None:
            counts = Counter(chain.from_iterable(map(set, words)))
        else:
            counts = Counter({word: word_counts.get(word, 1) for word in chain.from_iterable(words)})
        keys = np.array([" ".join([w for w in ws if counts[w] > 1][:3]) for ws in words], dtype=object)
        party = party.copy()
        party[missing] = keys[inverse] if len(keys) else ""
    # one string per distinct source and key, shared by its rows (not a new string per row: a million at a first run)
    source_codes, source_names = pd.factorize(_text(frame, "source"))
    codes = _codes(source_codes, party)
    _, firsts = np.unique(codes, return_index=True)
    labels = np.asarray(source_names, dtype=object)[source_codes[firsts]] + "|" + party[firsts]
    return labels[codes]


def _closest_other(amounts: np.ndarray, cents: int) -> float:
    """The amount nearest ``cents`` on a log scale other than ``cents`` itself (``cents`` when there is no other)."""
    amounts = np.asarray(amounts, dtype=float)
    distance = np.abs(np.log((amounts + 1) / (cents + 1)))
    distance[distance == 0] = 9.0  # its own amount only when nothing else is nearer than a factor of e^9
    return float(amounts[np.argmin(distance)])


def _describe_amount(value: float) -> str:
    return f"{value:,.2f}"


class _BatchColumns:
    """Feature columns for the batch rows only: ``columns[name] = values`` (one value per context row, or a
    scalar) keeps the values at ``take``, the batch rows' positions in the context frame in the batch's order."""

    def __init__(self, take: np.ndarray, keep: Iterable[str] | None = None) -> None:
        self.take = take
        self.keep = None if keep is None else frozenset(keep)
        self.columns: dict[str, np.ndarray] = {}

    def __setitem__(self, name: str, values: object) -> None:
        if self.keep is not None and name not in self.keep:
            return
        array = np.asarray(values)
        self.columns[name] = array[self.take] if array.ndim else np.full(len(self.take), array)

    def put(self, name: str, values: np.ndarray) -> None:
        """Store values already computed for the batch rows (at ``take``, in that order)."""
        if self.keep is None or name in self.keep:
            self.columns[name] = np.asarray(values)

    def frame(self, index: pd.Index) -> pd.DataFrame:
        return pd.DataFrame(self.columns, index=index)


@dataclass
class _Context:
    """The batch and its history as one time-ordered frame, with the derived columns the signals share."""

    frame: pd.DataFrame  # history + batch, sorted; ``in_batch`` marks the rows to score
    reference: np.ndarray  # bool: rows whose amounts set the baselines (not flagged before)


# signals never read these: left out of the history-sized context frame (a first run's million ids)
_NOT_IN_CONTEXT = frozenset({"transaction_id", "currency"})


def _stacked(parts: list[pd.DataFrame], column: str, order: np.ndarray) -> pd.Series:
    """``column`` of the parts one after the other, taken in ``order`` (missing in a part: NaN there)."""
    pieces = [
        part[column].reset_index(drop=True) if column in part else pd.Series(np.nan, index=range(len(part)))
        for part in parts
    ]
    values = pieces[0] if len(pieces) == 1 else pd.concat(pieces, ignore_index=True)
    return values.take(order).reset_index(drop=True)


def _context(batch: pd.DataFrame, history: pd.DataFrame | None, exclude: np.ndarray | None = None) -> _Context:
    parts = [history, batch] if history is not None and len(history) else [batch]
    n_history = len(parts[0]) if len(parts) == 2 else 0
    in_batch = np.concatenate([np.zeros(n_history, dtype=bool), np.ones(len(batch), dtype=bool)])
    position = np.concatenate([np.full(n_history, -1, dtype=np.int64), np.arange(len(batch), dtype=np.int64)])
    day = pd.to_datetime(
        pd.concat([part["booked_date"] for part in parts], ignore_index=True) if n_history else batch["booked_date"]
    ).dt.normalize()
    # time order (history before the batch within a day, the batch in its own order); built column by column, so
    # the inputs are copied once, not once per step (the 1M first run's memory peak is here)
    # (within a day the batch goes in transaction-id order, not the order it was read in: a tick scored against
    # kept baselines and the same tick scored from a full read then count "earlier payments" alike)
    tiebreak = position.copy()
    if "transaction_id" in batch and len(batch):
        tiebreak[n_history:] = np.argsort(np.argsort(batch["transaction_id"].to_numpy(), kind="stable"), kind="stable")
    order = np.lexsort((tiebreak, in_batch, day.to_numpy()))
    names = [c for c in dict.fromkeys(chain.from_iterable(p.columns for p in parts)) if c not in _NOT_IN_CONTEXT]
    columns = {name: _stacked(parts, name, order) for name in names if name != "booked_date"}
    frame = pd.DataFrame({"booked_date": day.take(order).reset_index(drop=True), **columns})
    del columns, day
    frame["in_batch"] = in_batch[order]
    frame["_batch_position"] = position[order]
    frame["_seq"] = np.arange(len(frame))
    amount = pd.to_numeric(frame["amount"], errors="coerce").fillna(0.0).astype(float)
    base = pd.to_numeric(frame["amount_base"], errors="coerce").astype(float) if "amount_base" in frame else amount
    base = base.where(base.notna(), amount)
    frame["abs_base"] = base.abs()
    frame["abs_cents"] = (amount.abs() * 100).round().astype(np.int64)
    frame["direction"] = np.sign(amount).astype(int)
    description = clean_descriptions(frame)
    if "party" in frame and frame["party"].notna().all():
        party = frame["party"].astype(str).to_numpy(dtype=object)  # keys the caller kept (an incremental tick)
    else:
        party = counterparty_keys(frame, description)
    frame["party"] = party
    frame["party_code"] = _codes(party)
    # the payee's first word (SLACK, APPLE): groups a payee whose descriptions vary by store or city
    frame["family_code"] = _codes(_per_unique(pd.Series(party), lambda text: text.split(" ", 1)[0]))
    frame["bill_code"] = _codes(frame["party_code"].to_numpy(), description)  # a recurring bill repeats its text
    frame["prefix_code"] = _codes(frame["bill_code"].to_numpy(), _text(frame, "instrument"))
    frame["category"] = _text(frame, "category").replace("", "uncategorized")
    frame["category_code"] = _codes(frame["category"])
    frame["source"] = _text(frame, "source")
    frame["source_code"] = _codes(frame["source"])
    in_batch = frame["in_batch"].to_numpy()
    if "is_flagged" in frame:
        flagged = frame["is_flagged"].astype(object).where(frame["is_flagged"].notna(), False).astype(bool)
        reference = ~flagged.to_numpy() | in_batch
    else:
        reference = np.ones(len(frame), dtype=bool)
    if exclude is not None:  # batch rows that must not set baselines (flagged by a first pass)
        position = frame["_batch_position"].to_numpy()
        reference[in_batch] &= ~np.asarray(exclude, dtype=bool)[position[in_batch]]
    return _Context(frame, reference)


def _group_quantile(  # noqa: ANN202
    group: np.ndarray, values: np.ndarray, reference: np.ndarray, q: float, at: np.ndarray, distinct: bool = False
):
    """The ``q``-quantile of the reference rows' ``values`` in the group of each row at positions ``at``, and that
    group's size (with ``distinct``: its number of distinct amounts, the sample size that matters for fixed-amount
    bills)."""
    ref = pd.Series(values[reference]).groupby(group[reference], sort=False)
    quantile = ref.quantile(q)
    size = ref.nunique() if distinct else ref.size()
    index = pd.Index(group[at])
    return (
        quantile.reindex(index).to_numpy(dtype=float),
        size.reindex(index).fillna(0).to_numpy(dtype=float),
    )


def _max_of_others(group: np.ndarray, values: np.ndarray, reference: np.ndarray, at: np.ndarray) -> tuple:
    """For each row at positions ``at``: the largest reference value in its group other than its own, and how many
    other reference rows the group has."""
    ref = pd.DataFrame({"group": group[reference], "value": values[reference]}).sort_values("value", ascending=False)
    by_group = ref.groupby("group", sort=False)["value"]
    wanted = pd.Series(group[at])
    top = wanted.map(by_group.nth(0).groupby(ref.loc[by_group.nth(0).index, "group"]).first())
    second = wanted.map(by_group.nth(1).groupby(ref.loc[by_group.nth(1).index, "group"]).first())
    count = wanted.map(by_group.size()).fillna(0).to_numpy() - reference[at]
    top, second = top.to_numpy(dtype=float), second.to_numpy(dtype=float)
    own_is_top = reference[at] & (values[at] == top)
    return np.where(own_is_top, second, top), count


def _previous(frame: pd.DataFrame, key: str, reference: np.ndarray, column: np.ndarray) -> np.ndarray:
    """For every row (``frame`` is in time order), ``column``'s value at the last reference row before it with
    the same ``key``; NaN when there is none."""
    codes = frame[key].to_numpy()
    seq = np.arange(len(frame))
    ref = pd.DataFrame({"_key": codes[reference], "_seq": seq[reference], "_value": column[reference]})
    left = pd.DataFrame({"_key": codes, "_seq": seq})
    merged = pd.merge_asof(left, ref, on="_seq", by="_key", allow_exact_matches=False)
    return merged["_value"].to_numpy(dtype=float)


@dataclass(frozen=True)
class WideBaselines:
    """The baselines of groups too wide to read row by row on every tick (all of a source's or a category's
    payments), over the whole context (history and batch; amounts, rounds and calendar over the reference rows,
    ``days`` over every row), as ``wide_baselines`` computes them from frames and a warehouse keeps them as state.
    With these, ``build_features`` needs as history only the rows of the batch's payee families (first word of the
    counterparty key, which contains every narrower group: payee, bill, card, payment) and gives the same features.

    ``amounts``: index (source, category, direction), columns q98, q95, distinct, n, top1, top2 (the two largest).
    ``source_amounts``: index (source, direction), columns q98, q95, distinct, n. ``categories``: index category,
    columns round, n. ``sources``: index source, columns n, weekend, timed. ``hours``: index (source, hour), column n.
    ``days``: the distinct booking days, sorted."""

    amounts: pd.DataFrame
    source_amounts: pd.DataFrame
    categories: pd.DataFrame
    sources: pd.DataFrame
    hours: pd.DataFrame
    days: np.ndarray


def baseline_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Per row, what the wide baselines and the payee grouping read, derived exactly as the signals derive it:
    source, category, direction, abs_base, weekend, hour (UTC, NaN without ``occurred_at``), is_round, party and
    family (the counterparty key and its first word), and the cleaned description where the source gives no
    counterparty (else ""). ``frame``: detector inputs, with a ``party`` column to keep given keys."""
    context = _context(frame, None).frame.sort_values("_batch_position")
    occurred = pd.to_datetime(context["occurred_at"], utc=True, errors="coerce") if "occurred_at" in context else None
    cents = context["abs_cents"].to_numpy()
    no_party = _per_unique(_text(context, "counterparty"), _clean_party) == ""
    return pd.DataFrame(
        {
            "source": context["source"].to_numpy(),
            "category": context["category"].to_numpy(),
            "direction": context["direction"].to_numpy(),
            "abs_base": context["abs_base"].to_numpy(),
            "weekend": context["booked_date"].dt.weekday.to_numpy() >= 5,
            "hour": occurred.dt.hour.to_numpy(dtype=float) if occurred is not None else np.nan,
            "is_round": (cents >= 100_000) & (cents % 10_000 == 0),
            "party": context["party"].to_numpy(),
            "family": _per_unique(context["party"], lambda text: text.split(" ", 1)[0]),
            "clean_description": np.where(no_party, clean_descriptions(context), ""),
        },
        index=frame.index,
    )


def families(party: Iterable[str]) -> np.ndarray:
    """The payee family of each counterparty key (its first word): the history a batch row's narrow baselines read."""
    return _per_unique(pd.Series(list(party), dtype=object), lambda text: text.split(" ", 1)[0])


def wide_baselines(batch: pd.DataFrame, history: pd.DataFrame | None = None) -> WideBaselines:
    """The wide baselines of ``batch`` and ``history`` together (what a full recomputation reads): the reference a
    warehouse's state must reproduce."""
    context = _context(batch, history)
    f, ref = context.frame, context.reference
    rows = baseline_rows(f.drop(columns=["in_batch", "_batch_position", "_seq"]).assign(party=f["party"]))
    rows["booked_date"] = f["booked_date"].to_numpy()
    ref_rows = rows[ref]
    return WideBaselines(
        amounts=_amount_stats(ref_rows, ["source", "category", "direction"], top=True),
        source_amounts=_amount_stats(ref_rows, ["source", "direction"]),
        categories=ref_rows.groupby("category").agg(round=("is_round", "sum"), n=("is_round", "size")),
        sources=ref_rows.groupby("source").agg(
            n=("weekend", "size"), weekend=("weekend", "sum"), timed=("hour", "count")
        ),
        hours=ref_rows.dropna(subset=["hour"])
        .astype({"hour": int})
        .groupby(["source", "hour"])
        .agg(n=("weekend", "size")),
        days=np.unique(rows["booked_date"].to_numpy()),
    )


def _amount_stats(rows: pd.DataFrame, keys: list[str], top: bool = False) -> pd.DataFrame:
    by = rows.groupby(keys)["abs_base"]
    stats = pd.DataFrame({"q98": by.quantile(0.98), "q95": by.quantile(0.95), "distinct": by.nunique(), "n": by.size()})
    if top:
        ordered = rows.sort_values("abs_base", ascending=False).groupby(keys)["abs_base"]
        stats["top1"] = ordered.nth(0).groupby([rows.loc[ordered.nth(0).index, k] for k in keys]).first()
        stats["top2"] = ordered.nth(1).groupby([rows.loc[ordered.nth(1).index, k] for k in keys]).first()
    return stats


def _wide(table: pd.DataFrame, column: str, *keys: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """``table[column]`` at the given keys (one array per index level), ``fill`` where a key is absent."""
    index = pd.MultiIndex.from_arrays(list(keys)) if len(keys) > 1 else pd.Index(keys[0])
    return table[column].reindex(index).to_numpy(dtype=float, na_value=fill)


def build_features(
    batch: pd.DataFrame,
    history: pd.DataFrame | None = None,
    exclude: np.ndarray | None = None,
    columns: Iterable[str] | None = None,
    wide: WideBaselines | None = None,
) -> pd.DataFrame:
    """Signal features for every row of ``batch`` against ``history`` (earlier transactions; rows with
    ``is_flagged`` true, and batch rows marked in ``exclude``, do not set baselines). Returned in ``batch``'s order
    and index; ``columns``: only these features (fitting the forest on a million rows needs 7 of them). ``wide``:
    the wide groups' baselines kept elsewhere; ``history`` then needs only the batch's payee families' rows."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _build_features(batch, history, exclude, columns, wide)


def _build_features(
    batch: pd.DataFrame,
    history: pd.DataFrame | None,
    exclude: np.ndarray | None,
    columns: Iterable[str] | None,
    wide: WideBaselines | None,
) -> pd.DataFrame:
    context = _context(batch, history, exclude)
    f, ref = context.frame, context.reference
    # history rows only inform the batch rows' baselines: every feature is computed over all rows but kept for the
    # batch rows alone (in the batch's order), so memory for the output grows with the batch, not with the history
    in_batch = f["in_batch"].to_numpy()
    take = np.flatnonzero(in_batch)
    take = take[np.argsort(f["_batch_position"].to_numpy()[take], kind="stable")]
    out = _BatchColumns(take, columns)
    out["_seq"] = f["_seq"]
    out["abs_base"] = f["abs_base"]
    out["log_amount"] = np.log1p(f["abs_base"].to_numpy())
    out["party"] = f["party"].to_numpy()
    # (the batch rows taken before converting to Python strings: not a history-sized object array each)
    texts = f[[c for c in ("description", "category", "source") if c in f]].iloc[take]
    for column in ("description", "category", "source"):
        out.put(column, _text(texts, column).to_numpy(dtype=object))
    del texts
    # one function per family of signals, so each family's whole-history temporaries are freed before the next
    for family in (
        _amount_features,
        _payee_history_features,
        _bill_features,
        _duplicate_features,
        _round_features,
        _calendar_features,
        _velocity_features,
    ):
        family(f, ref, out, wide)
    del context, f, ref  # the history-sized context is freed before the batch's features are put together
    return out.frame(batch.index)


def _amount_features(f: pd.DataFrame, ref: np.ndarray, out: _BatchColumns, wide: WideBaselines | None) -> None:
    """The amount against the counterparty's usual range, else the category's within the source; against the
    counterparty's own habit; and against what counts as large for the source's category.

    The baselines come from every reference row; everything after is computed for the batch rows alone (``at``),
    so a tick against months of history holds history-sized arrays only for the group codes."""
    at = out.take
    abs_base = f["abs_base"].to_numpy()
    direction = f["direction"].to_numpy()
    party_codes = f["party_code"].to_numpy()
    family_codes = f["family_code"].to_numpy()
    source_codes = f["source_code"].to_numpy()
    category_codes = f["category_code"].to_numpy()
    source_category = _codes(source_codes, category_codes, direction)
    source_direction = _codes(source_codes, direction)
    # payee (one direction), payee (both: refunds against the purchases), payee family, category within source
    groups = (_codes(party_codes, direction), party_codes, _codes(family_codes, direction), source_category)
    party_q, party_n = _group_quantile(groups[0], abs_base, ref, 0.98, at, True)
    any_q, any_n = _group_quantile(groups[1], abs_base, ref, 0.98, at, True)
    family_q, family_n = _group_quantile(groups[2], abs_base, ref, 0.98, at, True)
    if wide is not None:  # the source's category and the source: kept baselines, looked up for the batch rows
        source_key = f["source"].to_numpy()[at]
        category_key = (source_key, f["category"].to_numpy()[at], direction[at])
        category_q = _wide(wide.amounts, "q98", *category_key)
        category_n = _wide(wide.amounts, "distinct", *category_key, fill=0.0)
    else:
        category_q, category_n = _group_quantile(groups[3], abs_base, ref, 0.98, at, True)
    levels = [(party_n, party_q), (any_n, any_q), (family_n, family_q), (category_n, category_q)]
    sizes = np.column_stack([n for n, _ in levels])
    maxima = np.column_stack([np.nan_to_num(q, nan=-np.inf) for _, q in levels])
    has = sizes >= MIN_BASELINE
    rows = np.arange(len(at))
    first = np.argmax(has, axis=1)  # the most specific level with a baseline
    widest = np.argmax(np.where(has, maxima, -np.inf), axis=1)
    # that level alone sets the usual range when reliable (>= 100 distinct amounts); otherwise the most
    # permissive level with a baseline does (a payee split by store must not look above its category)
    pick = np.where(sizes[rows, first] >= 100, first, widest)
    any_level = has.any(axis=1)
    # with no baseline at any of those levels (a rare category), the source's payments in that direction
    if wide is not None:
        source_q = _wide(wide.source_amounts, "q98", source_key, direction[at])
        source_n = _wide(wide.source_amounts, "distinct", source_key, direction[at], fill=0.0)
    else:
        source_q, source_n = _group_quantile(source_direction, abs_base, ref, 0.98, at, True)
    fallback = ~any_level & (source_n >= MIN_BASELINE)
    usual = np.where(any_level, maxima[rows, pick], np.where(fallback, source_q, np.nan))
    usual_n = np.where(any_level, sizes[rows, pick], np.where(fallback, source_n, 0))
    # the largest earlier payment at the chosen level (the row's own left out): beyond the maximum of n
    # exchangeable payments a new one lands with probability 1/(n+1), so with hundreds it is a record worth a look
    others_max = [_max_of_others(group, abs_base, ref, at) for group in (groups if wide is None else groups[:3])]
    if wide is not None:  # the largest other reference amount of the source's category
        top1, top2 = _wide(wide.amounts, "top1", *category_key), _wide(wide.amounts, "top2", *category_key)
        own_is_top = ref[at] & (abs_base[at] == top1)
        others_max.append(
            (np.where(own_is_top, top2, top1), _wide(wide.amounts, "n", *category_key, fill=0.0) - ref[at])
        )
    record = np.column_stack([np.nan_to_num(m, nan=np.inf) for m, _ in others_max])[rows, pick]
    amount = abs_base[at]
    out.put("record_max", np.where(any_level, record, np.nan))
    out.put("log_record_ratio", np.where(any_level, np.log((amount + 1) / (record + 1)), -np.inf))
    # a payee with too few payments for its own baseline, judged by its category's, is not unusual below its own
    # largest earlier payment (a restaurant for client dinners among coffee shops)
    own_max, own_n = others_max[0]
    few = (own_n >= 3) & (party_n < MIN_BASELINE) & np.isfinite(usual)
    usual = np.where(few, np.fmax(usual, own_max), usual)
    out.put("usual_max", usual)
    out.put("usual_n", usual_n)
    out.put("log_range_ratio", np.log((amount + 1) / (np.nan_to_num(usual, nan=np.inf) + 1)))

    # the counterparty's own habit: median and robust spread (1.4826 x the median absolute deviation) of the log
    # amounts of its payments in this direction. A customer who always pays about 40.00 paying 400.00 is unusual for
    # that customer even where 400.00 is an ordinary amount for the category (which the range above judges by)
    own_group = groups[0]
    ref_logs = np.log1p(abs_base[ref])
    medians = pd.Series(ref_logs).groupby(own_group[ref], sort=False).median()
    ref_center = pd.Series(own_group[ref]).map(medians).to_numpy(dtype=float)
    deviation = pd.Series(np.abs(ref_logs - ref_center)).groupby(own_group[ref], sort=False).median()
    wanted = pd.Series(own_group[at])
    center = wanted.map(medians).to_numpy(dtype=float)
    out.put("party_usual", np.expm1(center))
    out.put("party_history", own_n)  # its other (unflagged) payments in this direction
    out.put("party_spread", 1.4826 * wanted.map(deviation).to_numpy(dtype=float))
    out.put("log_party_ratio", np.log1p(amount) - center)
    out.put("party_max", own_max)
    out.put("log_party_max_ratio", np.log((amount + 1) / (np.nan_to_num(own_max, nan=np.inf) + 1)))

    # what counts as a large payment: the source's category's 95th percentile, else the source's
    if wide is not None:
        cat95, cat95_n = _wide(wide.amounts, "q95", *category_key), _wide(wide.amounts, "n", *category_key, fill=0.0)
        src95 = _wide(wide.source_amounts, "q95", source_key, direction[at])
        src95_n = _wide(wide.source_amounts, "n", source_key, direction[at], fill=0.0)
    else:
        cat95, cat95_n = _group_quantile(source_category, abs_base, ref, 0.95, at)
        src95, src95_n = _group_quantile(source_direction, abs_base, ref, 0.95, at)
    large = np.where(cat95_n >= MIN_BASELINE, cat95, np.where(src95_n >= MIN_BASELINE, src95, np.nan))
    out.put("large_amount", large)
    log_large_ratio = np.log((amount + 1) / (np.nan_to_num(large, nan=np.inf) + 1))
    out.put("log_large_ratio", log_large_ratio)
    out.put("log_category_ratio", np.where(np.isfinite(large), log_large_ratio, 0.0))
    # for a new payee the category is only the model's guess: a first payment is material when it is large for the
    # account (the source's payments in that direction) or for the category, whichever bar is lower
    material = np.fmin(
        np.where(cat95_n >= MIN_BASELINE, cat95, np.nan), np.where(src95_n >= MIN_BASELINE, src95, np.nan)
    )
    out.put("material_amount", material)
    out.put("log_material_ratio", np.log((amount + 1) / (np.nan_to_num(material, nan=np.inf) + 1)))


def _payee_history_features(f: pd.DataFrame, ref: np.ndarray, out: _BatchColumns, wide: WideBaselines | None) -> None:
    """Payee history: earlier payments that were not flagged (a flagged payment does not establish its payee)."""
    party_codes = f["party_code"].to_numpy()
    before = pd.Series(ref.astype(np.int64)).groupby(party_codes).cumsum().to_numpy() - ref
    out["prior_payments"] = before
    out["log_prior_payments"] = np.log1p(before)
    money_out = (f["direction"] < 0).to_numpy()
    out["money_out"] = money_out
    out["vendor_payment"] = money_out & ~f["category"].isin(NOT_VENDOR_CATEGORIES).to_numpy()
    # days of data before the row's day: on a first day every payee is "new", which says nothing
    booked = f["booked_date"].to_numpy()
    days = np.unique(booked) if wide is None else wide.days
    out.put("history_days", np.searchsorted(days, booked[out.take], side="left").astype(float))


def _bill_features(f: pd.DataFrame, ref: np.ndarray, out: _BatchColumns, wide: WideBaselines | None) -> None:
    """Bills: how often each payee's exact bill (description and amount) repeats, and whether this one's earlier
    payments all had one amount (a recurring bill) that this one departs from."""
    in_batch = f["in_batch"].to_numpy()
    cents = f["abs_cents"].to_numpy()
    bill_codes = f["bill_code"].to_numpy()
    bill_amount_codes = _codes(bill_codes, cents)
    ref_ones = pd.Series(ref.astype(np.int64))
    n_bill = ref_ones.groupby(bill_codes).transform("sum").to_numpy() - ref
    n_bill_amount = ref_ones.groupby(bill_amount_codes).transform("sum").to_numpy() - ref
    ref_bill = pd.DataFrame({"bill": bill_codes[ref], "cents": cents[ref]}).groupby("bill")["cents"]
    bill_index = pd.Series(bill_codes)
    bill_distinct = bill_index.map(ref_bill.nunique()).fillna(0).to_numpy()
    first_amount = bill_index.map(ref_bill.first()).to_numpy(dtype=float)
    last_amount = bill_index.map(ref_bill.last()).to_numpy(dtype=float)
    own_unique = ref & (n_bill_amount == 0)  # this row's amount appears on no other payment of the bill
    others_distinct = bill_distinct - own_unique
    # the others' one amount: the bill's first amount unless that is this row's, then its last
    other_amount = np.where(first_amount != cents, first_amount, last_amount)
    recurring = own_unique & (others_distinct == 1) & (n_bill >= 2)
    out["usual_bill"] = np.where(recurring, other_amount / 100.0, np.nan)
    out["drift"] = np.where(recurring, np.abs(np.log((cents + 1) / (np.nan_to_num(other_amount) + 1))), 0.0)
    # a bill several contracts share (one description, a few fixed amounts, e.g. "WEWORK MEMBERSHIP"): its other
    # payments nearly all repeat an amount the bill has seen, and this one pays an amount it has never seen
    repeated = ref & (n_bill_amount >= 1)
    repeated_others = pd.Series(repeated.astype(np.int64)).groupby(bill_codes).transform("sum").to_numpy() - repeated
    out["bill_others"] = n_bill
    bill_repeat_share = repeated_others / np.maximum(n_bill, 1)
    out["bill_repeat_share"] = bill_repeat_share
    # "never seen" counts flagged payments too: a repeat of a flagged amount is the new price, flagged once
    seen_amount = pd.Series(np.ones(len(f), np.int64)).groupby(bill_amount_codes).transform("size").to_numpy() - 1
    new_bill_amount = (seen_amount == 0) & ~recurring & (f["direction"].to_numpy() < 0)
    out["new_bill_amount"] = new_bill_amount
    out["repeat_of_fixed_bill"] = (seen_amount >= 1) & (n_bill >= 3) & (bill_repeat_share >= 0.5)
    # (batch rows only: it is read for their reasons, and a bill with years of history has thousands of amounts)
    candidates = np.flatnonzero(new_bill_amount & (n_bill >= 3) & (bill_repeat_share >= 0.5) & in_batch)
    nearest_bill = np.full(len(f), np.nan)
    if len(candidates):  # the usual amount it departs from (for the reason): the closest other amount of the bill
        wanted = set(bill_codes[candidates].tolist())
        mask = ref & np.isin(bill_codes, list(wanted))
        amounts = pd.Series(cents[mask]).groupby(bill_codes[mask]).unique()
        nearest_bill[candidates] = [
            _closest_other(amounts.get(bill_codes[i], np.array([cents[i]])), cents[i]) / 100.0 for i in candidates
        ]
    out["nearest_bill"] = nearest_bill


def _duplicate_features(f: pd.DataFrame, ref: np.ndarray, out: _BatchColumns, wide: WideBaselines | None) -> None:
    """Duplicates: the same payment key seen before within a few days, where a chance match is unlikely."""
    cents = f["abs_cents"].to_numpy()
    family_codes = f["family_code"].to_numpy()
    ref_ones = pd.Series(ref.astype(np.int64))
    prefix_codes = f["prefix_code"].to_numpy()
    payment_codes = _codes(prefix_codes, cents)
    day = f["booked_date"].to_numpy()
    previous_day = pd.Series(day).groupby(payment_codes).shift(1).to_numpy()
    days_since = (day - previous_day) / np.timedelta64(1, "D")
    seen_before = pd.Series(np.ones(len(f), np.int64)).groupby(payment_codes).cumsum().to_numpy() - 1
    # payees whose payments often repeat exactly (subscriptions, fixed transfers): share of the other payments
    # to the payee's family (same first word; this payment key left out) that repeat an earlier one
    n_payment = ref_ones.groupby(payment_codes).transform("sum").to_numpy()
    repeats = pd.Series((ref & (n_payment >= 2)).astype(np.int64))
    party_repeats = repeats.groupby(family_codes).transform("sum").to_numpy()
    party_total = ref_ones.groupby(family_codes).transform("sum").to_numpy()
    own_repeats = repeats.groupby(payment_codes).transform("sum").to_numpy()
    out["party_repeat_share"] = (party_repeats - own_repeats) / np.maximum(party_total - n_payment, 1)
    first, last = (f["booked_date"].min(), f["booked_date"].max()) if wide is None else (wide.days[0], wide.days[-1])
    span_days = max(1.0, (last - first) / pd.Timedelta(days=1) + 1)
    prefix_count = ref_ones.groupby(prefix_codes).transform("sum").to_numpy()
    per_day = prefix_count / span_days  # payments under this payee + description (+ card) per day
    # ~ expected chance matches of this exact amount over the gap (amounts spread about log-uniformly)
    chance = per_day * np.maximum(np.nan_to_num(days_since, nan=7.0), 1.0) / np.maximum(cents, 1) / 2.5
    # round amounts repeat by design (transfers, retainers): whole units are ~100x, thousands ~1000x likelier
    chance *= np.where(cents % 100_000 == 0, 1000.0, np.where(cents % 100 == 0, 100.0, 1.0))
    out["duplicate_of_days"] = np.where((seen_before == 1) & (days_since <= DUPLICATE_WINDOW_DAYS), days_since, np.nan)
    out["duplicate_chance"] = chance


def _round_features(f: pd.DataFrame, ref: np.ndarray, out: _BatchColumns, wide: WideBaselines | None) -> None:
    """Round amounts where the payee and the category rarely see one."""
    cents = f["abs_cents"].to_numpy()
    party_codes = f["party_code"].to_numpy()
    category_codes = f["category_code"].to_numpy()
    is_round = (cents >= 100_000) & (cents % 10_000 == 0)
    out["is_round"] = is_round
    round_series = pd.Series((is_round & ref).astype(np.int64))
    count_series = pd.Series(ref.astype(np.int64))
    own_round = (is_round & ref).astype(np.int64)  # the row itself does not count towards its group's habit
    party_round = (round_series.groupby(party_codes).transform("sum").to_numpy() - own_round) / np.maximum(
        count_series.groupby(party_codes).transform("sum").to_numpy() - ref, 1
    )
    category_round = (round_series.groupby(category_codes).transform("sum").to_numpy() - own_round) / np.maximum(
        count_series.groupby(category_codes).transform("sum").to_numpy() - ref, 1
    )
    if wide is not None:  # the category's habit over every source: kept baselines
        at = out.take
        category = f["category"].to_numpy()[at]
        own = own_round[at]
        total = _wide(wide.categories, "n", category, fill=0.0)
        category_round = (_wide(wide.categories, "round", category, fill=0.0) - own) / np.maximum(total - ref[at], 1)
        out.put("round_share", np.fmax(party_round[at], category_round))
        return
    out["round_share"] = np.fmax(party_round, category_round)


def _calendar_features(f: pd.DataFrame, ref: np.ndarray, out: _BatchColumns, wide: WideBaselines | None) -> None:
    """Calendar: weekend bookings and hours of day, against the source's own habits."""
    source_codes = f["source_code"].to_numpy()
    count_series = pd.Series(ref.astype(np.int64))
    weekend = f["booked_date"].dt.weekday.to_numpy() >= 5
    out["weekend"] = weekend
    weekend_ref = pd.Series(weekend & ref)
    out["weekend_share"] = (
        weekend_ref.groupby(source_codes).transform("sum")
        / count_series.groupby(source_codes).transform("sum").clip(lower=1)
    ).to_numpy()
    occurred = (
        pd.to_datetime(f["occurred_at"], utc=True, errors="coerce")
        if "occurred_at" in f
        else pd.Series(pd.NaT, index=f.index, dtype="datetime64[ns, UTC]")
    )
    hour = occurred.dt.hour.to_numpy(dtype=float)
    has_hour = np.isfinite(hour)
    hour_key = np.where(has_hour, source_codes * 24 + np.nan_to_num(hour).astype(int), -1)
    hour_ref = pd.Series((has_hour & ref).astype(np.int64))
    hour_count = hour_ref.groupby(hour_key).transform("sum").to_numpy()
    source_timed = hour_ref.groupby(source_codes).transform("sum").to_numpy()
    hour_share = np.where(has_hour & (source_timed >= 200), hour_count / np.maximum(source_timed, 1), np.nan)
    if wide is not None:  # the source's habits: kept baselines, looked up for the batch rows
        at = out.take
        source = f["source"].to_numpy()[at]
        out.put(
            "weekend_share",
            _wide(wide.sources, "weekend", source, fill=0.0) / np.maximum(_wide(wide.sources, "n", source, fill=0), 1),
        )
        hour, has_hour = hour[at], has_hour[at]
        source_timed = _wide(wide.sources, "timed", source, fill=0.0)
        hour_count = _wide(wide.hours, "n", source, np.nan_to_num(hour, nan=-1).astype(int), fill=0.0)
        hour_share = np.where(has_hour & (source_timed >= 200), hour_count / np.maximum(source_timed, 1), np.nan)
        put = out.put
    else:
        put = out.__setitem__
    put("hour", hour)
    put("hour_share", hour_share)
    put(
        "hour_rarity",
        np.where(np.isfinite(hour_share), -np.log10(np.maximum(np.nan_to_num(hour_share, nan=1), 1e-6)), 0.0),
    )


def _velocity_features(f: pd.DataFrame, ref: np.ndarray, out: _BatchColumns, wide: WideBaselines | None) -> None:
    """Velocity: payments to one payee on one day against its usual count per active day."""
    party_codes = f["party_code"].to_numpy()
    party_day = _codes(party_codes, f["booked_date"].to_numpy())
    day_count = pd.Series(np.ones(len(f), np.int64)).groupby(party_day).transform("size").to_numpy()
    usual_per_day = pd.Series(day_count.astype(float)).groupby(party_codes).transform("median").to_numpy()
    out["day_count"] = day_count
    out["log_velocity_ratio"] = np.log(day_count / np.maximum(usual_per_day, 1.0))


@dataclass(frozen=True)
class Evidence:
    """Evidence levels (about each signal's precision on its own) and the points where signals start to fire."""

    spike: float = 0.97
    spike_from: float = 1.1  # amount / usual maximum (98th percentile) where the spike signal starts
    spike_full: float = 1.35  # ... and where it is at full strength (payee or category with >= 300 payments)
    spike_from_some: float = 1.15  # the same with 100 to 299 earlier payments
    spike_full_some: float = 1.6
    spike_from_few: float = 1.25  # ... and with 30 to 99 (a noisier maximum)
    spike_full_few: float = 1.8
    record_from: float = 1.02  # amount / largest earlier payment where the record signal starts
    record_full: float = 1.1
    record_min_n: float = 300  # distinct earlier amounts the record signal needs (full strength from 1,000)
    record_full_n: float = 1000
    # the counterparty's own habit: at least ``party_min_n`` earlier payments (with 5-9 a wide-ranging payer's few
    # amounts bunch up by chance often enough to flag one ordinary payment a day), the amount several times their
    # median, its robust z-score on log amounts high (the spread floored at ``party_min_spread``, about +-10%: a
    # fixed price has none) and the amount well above the largest of them
    party_min_n: float = 10
    party_from: float = 4.0  # amount / the counterparty's median where the signal starts ...
    party_full: float = 6.0  # ... and where it is at full strength
    party_z_from: float = 5.0
    party_z_full: float = 7.0
    party_min_spread: float = 0.1
    party_max_from: float = 1.5  # amount / the counterparty's largest earlier payment
    party_max_full: float = 2.5
    new_counterparty: float = 0.97
    new_counterparty_from_days: float = 2  # days of history before "first payment to" starts to mean something
    new_counterparty_full_days: float = 5
    duplicate: float = 0.97
    duplicate_max_chance: float = 1e-4
    duplicate_max_repeat_share: float = 0.05  # payees whose bills often repeat exactly (subscriptions) are exempt
    drift: float = 0.97
    drift_from: float = 1.08
    drift_full: float = 1.18
    drift_max: float = 1.8
    fixed_bill_from: float = 0.5  # share of a bill's other payments repeating a known amount where a new amount
    fixed_bill_full: float = 0.75  # starts to count as drift ... and where it counts fully
    round_amount: float = 0.96
    round_max_share: float = 0.02
    weekend: float = 0.96
    weekend_max_share: float = 0.01
    hour: float = 0.96
    hour_max_share: float = 0.003
    velocity: float = 0.6
    forest: float = 0.5
    forest_from: float = 0.999  # training tail probability where the forest starts to count


def party_spike(features: pd.DataFrame, evidence: Evidence) -> np.ndarray:
    """Evidence that an amount is far above the counterparty's own habit: several times the median of its earlier
    payments, far outside their spread and well above the largest of them (0 with fewer than ``party_min_n``)."""
    e = evidence
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = features["log_party_ratio"].to_numpy() / np.fmax(features["party_spread"].to_numpy(), e.party_min_spread)
        return e.spike * (
            (features["party_history"].to_numpy() >= e.party_min_n)
            * _ramp(features["log_party_ratio"].to_numpy(), np.log(e.party_from), np.log(e.party_full))
            * _ramp(z, e.party_z_from, e.party_z_full)
            * _ramp(features["log_party_max_ratio"].to_numpy(), np.log(e.party_max_from), np.log(e.party_max_full))
        )


def signal_evidence(features: pd.DataFrame, forest_tail: np.ndarray, evidence: Evidence) -> pd.DataFrame:
    """Per-row evidence in [0, 1] for each signal (0 where it does not fire)."""
    e = evidence
    ratio = features["log_range_ratio"].to_numpy()
    known = features["usual_n"].to_numpy()
    spike = e.spike * np.select(
        [known >= 300, known >= 100],
        [
            _ramp(ratio, np.log(e.spike_from), np.log(e.spike_full)),
            _ramp(ratio, np.log(e.spike_from_some), np.log(e.spike_full_some)),
        ],
        _ramp(ratio, np.log(e.spike_from_few), np.log(e.spike_full_few)),
    )
    record = e.spike * (
        _ramp(features["log_record_ratio"].to_numpy(), np.log(e.record_from), np.log(e.record_full))
        * _ramp(known, e.record_min_n, e.record_full_n)
    )
    spike = np.maximum.reduce([spike, record, party_spike(features, e)])
    spike = spike * ~features["repeat_of_fixed_bill"].to_numpy()  # a fixed bill's known amount is its price
    large_ratio = features["log_material_ratio"].to_numpy()
    new = (
        e.new_counterparty
        * (features["vendor_payment"].to_numpy() & (features["prior_payments"].to_numpy() < 2))
        * _ramp(large_ratio, np.log(1.0), np.log(1.3))
        * _ramp(features["history_days"].to_numpy(), e.new_counterparty_from_days, e.new_counterparty_full_days)
    )
    duplicate = e.duplicate * (
        np.isfinite(features["duplicate_of_days"].to_numpy())
        & (features["duplicate_chance"].to_numpy() <= e.duplicate_max_chance)
        & (features["party_repeat_share"].to_numpy() < e.duplicate_max_repeat_share)
        & features["money_out"].to_numpy()
    )
    change = features["drift"].to_numpy()
    drift = e.drift * np.minimum(
        _ramp(change, np.log(e.drift_from), np.log(e.drift_full)),
        1.0 - _ramp(change, np.log(e.drift_max), np.log(e.drift_max) + 0.15),
    )  # far beyond a price change it is another bill (or a spike, which the spike signal judges)
    fixed_bill = (
        e.drift
        * (features["new_bill_amount"].to_numpy() & (features["bill_others"].to_numpy() >= 3))
        * _ramp(features["bill_repeat_share"].to_numpy(), e.fixed_bill_from, e.fixed_bill_full)
    )
    drift = np.maximum(drift, fixed_bill)
    round_amount = e.round_amount * (
        features["is_round"].to_numpy() & (features["round_share"].to_numpy() < e.round_max_share)
    )
    weekend = e.weekend * (
        features["weekend"].to_numpy() & (features["weekend_share"].to_numpy() < e.weekend_max_share)
    )
    hour_share = features["hour_share"].to_numpy()
    hour = e.hour * (np.isfinite(hour_share) & (np.nan_to_num(hour_share, nan=1.0) < e.hour_max_share))
    velocity = e.velocity * (
        (features["day_count"].to_numpy() >= 5) * _ramp(features["log_velocity_ratio"].to_numpy(), np.log(3), np.log(6))
    )
    forest = e.forest * _ramp(forest_tail, e.forest_from, 1.0)
    return pd.DataFrame(
        {
            "amount_spike": spike,
            "new_counterparty": new,
            "duplicate": duplicate.astype(float),
            "recurring_drift": drift,
            "round_amount": round_amount.astype(float),
            "weekend": weekend.astype(float),
            "unusual_hour": hour.astype(float),
            "velocity": velocity,
            "forest": forest,
        },
        index=features.index,
    )


def combine(evidence: pd.DataFrame) -> np.ndarray:
    """Noisy-OR of the signals' evidence: the probability that at least one of them is right."""
    return 1.0 - np.prod(1.0 - evidence.to_numpy(dtype=float), axis=1)


def _own_amounts(batch: pd.DataFrame, rows: np.ndarray) -> list[tuple[float, str, bool]]:
    """Per row position: the transaction's own absolute amount, its currency ("" when unknown) and whether the
    base-currency figure the signals compare differs from it (a foreign-currency row)."""
    own = pd.to_numeric(batch["amount"], errors="coerce").abs().to_numpy(dtype=float)[rows]
    if "amount_base" in batch:
        base = pd.to_numeric(batch["amount_base"], errors="coerce").abs().to_numpy(dtype=float)[rows]
    else:
        base = own
    currency = (
        batch["currency"].astype(object).where(batch["currency"].notna(), "").astype(str).to_numpy()[rows]
        if "currency" in batch
        else np.full(len(rows), "", dtype=object)
    )
    foreign = np.isfinite(base) & np.isfinite(own) & (np.abs(base - own) >= 0.005)
    return list(zip(own.tolist(), currency.tolist(), foreign.tolist(), strict=True))


def _reasons(
    features: pd.DataFrame,
    evidence: pd.DataFrame,
    rows: np.ndarray,
    params: Evidence,
    own: list[tuple[float, str, bool]] | None = None,
) -> list[str]:
    """Human-readable reasons for the given row positions (strongest signal first). The amount is quoted in the
    transaction's own currency (``own``); where that is foreign, the figures it is compared with are base-currency
    equivalents and say so."""
    out = []
    names = list(evidence.columns)
    values = evidence.to_numpy()
    own_habit = party_spike(features.iloc[rows], params)  # which part of the amount signal fired
    for k, i in enumerate(rows):
        row = features.iloc[i]
        fired = sorted(((values[i, j], names[j]) for j in range(len(names)) if values[i, j] >= 0.2), reverse=True)
        texts = []
        amount, currency, foreign = own[k] if own is not None else (row["abs_base"], "", False)
        said = f"{_describe_amount(amount)} {currency}".strip()
        unit = ""
        if foreign:
            said += f" ({_describe_amount(row['abs_base'])} base-currency equivalent)"
            unit = " base currency"
        who = row["party"].split("|", 1)[-1] or row["description"][:40] or row["source"]
        for value, name in fired:
            if name == "amount_spike" and own_habit[k] >= value:
                ratio = row["abs_base"] / max(row["party_usual"], 0.01)
                texts.append(
                    f"amount {said} is {ratio:.1f}x the usual {_describe_amount(row['party_usual'])}{unit} "
                    f"of {who} (median of its {int(row['party_history']):,} earlier payments, the largest "
                    f"{_describe_amount(row['party_max'])}{unit})"
                )
            elif name == "amount_spike" and row["abs_base"] > row["record_max"] > row["usual_max"] * 1.1:
                texts.append(
                    f"amount {said} is above the largest of {int(row['usual_n']):,} "
                    f"earlier payments ({_describe_amount(row['record_max'])}{unit}) for {who}"
                )
            elif name == "amount_spike":
                ratio = row["abs_base"] / max(row["usual_max"], 0.01)
                texts.append(
                    f"amount {said} is {ratio:.1f}x the usual maximum "
                    f"({_describe_amount(row['usual_max'])}{unit}) for {who}"
                )
            elif name == "new_counterparty":
                texts.append(
                    f"first payment to {who} and a large one ({said}, above "
                    f"{_describe_amount(row['material_amount'])}{unit}, the 95th percentile of {row['source']} "
                    f"payments or of {row['category']})"
                )
            elif name == "duplicate":
                texts.append(
                    f"same payee, amount and description as a payment {int(row['duplicate_of_days'])} day(s) earlier"
                )
            elif name == "recurring_drift" and not np.isfinite(row["usual_bill"]):
                texts.append(
                    f"recurring bill from {who} came in at {said}, none of the fixed "
                    f"amounts it is billed (nearest {_describe_amount(row['nearest_bill'])})"
                )
            elif name == "recurring_drift":
                texts.append(
                    f"recurring bill from {who} changed from its usual {_describe_amount(row['usual_bill'])} to {said}"
                )
            elif name == "round_amount":
                texts.append(f"round amount {said}, rare for {who} and {row['category']}")
            elif name == "weekend":
                texts.append(f"booked on a weekend; {row['source']} almost never books on weekends")
            elif name == "unusual_hour":
                texts.append(
                    f"created at {int(row['hour']):02d}:00-{int(row['hour']):02d}:59 UTC, an hour "
                    f"{row['source']} almost never sees"
                )
            elif name == "velocity":
                texts.append(f"{int(row['day_count'])} payments to {who} on one day")
            elif name == "forest":
                texts.append("unusual combination of amount, payee history and timing")
        out.append("; ".join(texts))
    return out


class AnomalyDetector(BaseEstimator):
    """Signals plus an IsolationForest; ``score`` returns ``anomaly_score`` in [0, 1], ``is_anomaly`` and reasons.

    ``fit`` learns the forest (and the distribution of its scores, to express them as tail probabilities) from
    history; the signals themselves read the history passed at scoring time.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        n_estimators: int = 100,
        max_samples: int = 256,
        seed: int = 0,
        evidence: dict | None = None,
    ) -> None:
        self.threshold = threshold
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.seed = seed
        self.evidence = evidence

    def _evidence(self) -> Evidence:
        return Evidence(**(self.evidence or {}))

    def fit(self, frame: pd.DataFrame, y: object = None) -> AnomalyDetector:
        matrix = build_features(frame, columns=FOREST_FEATURES)[list(FOREST_FEATURES)].to_numpy(dtype=float)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, len(matrix)),
            random_state=self.seed,
            n_jobs=1,
        ).fit(matrix)
        self.forest_scores_ = np.sort(-self.forest_.score_samples(matrix))
        self.fitted_rows_ = len(matrix)
        return self

    def forest_tail(self, features: pd.DataFrame) -> np.ndarray:
        """The forest's anomaly score as the share of training rows less anomalous (1.0: beyond all of them)."""
        raw = -self.forest_.score_samples(features[list(FOREST_FEATURES)].to_numpy(dtype=float))
        return np.searchsorted(self.forest_scores_, raw, side="right") / len(self.forest_scores_)

    def score(
        self,
        batch: pd.DataFrame,
        history: pd.DataFrame | None = None,
        threshold: float | None = None,
        wide: WideBaselines | None = None,
    ) -> pd.DataFrame:
        """Score ``batch`` against ``history``: ``anomaly_score``, ``is_anomaly`` (score >= threshold) and
        ``anomaly_reasons`` (empty below 0.5). ``wide``: the wide groups' baselines kept as state (then
        ``history`` holds only the batch's payee families, see ``WideBaselines``; a tick, never a backlog)."""
        threshold = self.threshold if threshold is None else threshold
        if len(batch) == 0:
            return pd.DataFrame(
                {"anomaly_score": pd.Series(dtype=float), "is_anomaly": pd.Series(dtype=bool), "anomaly_reasons": ""}
            )
        features, evidence, score = self._score(batch, history, threshold, wide)
        reasons = np.full(len(score), "", dtype=object)
        explain = np.flatnonzero(score >= 0.5)
        if len(explain):
            own = _own_amounts(batch, explain)
            reasons[explain] = _reasons(features, evidence, explain, self._evidence(), own)
        return pd.DataFrame(
            {"anomaly_score": score, "is_anomaly": score >= threshold, "anomaly_reasons": reasons},
            index=batch.index,
        )

    def _pass(
        self,
        batch: pd.DataFrame,
        history: pd.DataFrame | None,
        exclude: np.ndarray | None,
        tail: np.ndarray | None,
        wide: WideBaselines | None = None,
    ) -> tuple:
        features = build_features(batch, history, exclude, wide=wide)
        tail = self.forest_tail(features) if tail is None else tail
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            evidence = signal_evidence(features, tail, self._evidence())
        return features, evidence, combine(evidence), tail

    def _score(
        self, batch: pd.DataFrame, history: pd.DataFrame | None, threshold: float, wide: WideBaselines | None = None
    ) -> tuple:
        features, evidence, score, tail = self._pass(batch, history, None, None, wide)
        if wide is None and (history is None or len(batch) > len(history)):
            # mostly new data (a first run): score again with the first pass's flags left out of the baselines,
            # as day-by-day scoring would have done (a repeated new payee must not establish itself); the forest's
            # view barely moves, so its first-pass tail probabilities are kept
            features, evidence, score, _ = self._pass(batch, history, score >= threshold, tail)
        return features, evidence, score

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """MLflow's entry point: score a frame on its own (it is its own history)."""
        return self.score(frame)

    def explain(
        self, batch: pd.DataFrame, history: pd.DataFrame | None = None, wide: WideBaselines | None = None
    ) -> pd.DataFrame:
        """Features and per-signal evidence, for evaluation and debugging."""
        features, evidence, score = self._score(batch, history, self.threshold, wide)
        return features.join(evidence.add_prefix("e_")).assign(anomaly_score=score)


def train_anomaly_model(history: pd.DataFrame, seed: int = 0, **params: object) -> AnomalyDetector:
    """Fit the detector on (mostly normal) history."""
    return AnomalyDetector(seed=seed, **params).fit(history)


MAX_BATCH_ROWS = 200_000  # rows scored in one pass at most (whole booking days): bounds memory on a first run


def score_in_chunks(
    model: AnomalyDetector,
    frame: pd.DataFrame,
    history: pd.DataFrame | None = None,
    threshold: float | None = None,
    max_rows: int = MAX_BATCH_ROWS,
) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
    """Score ``frame`` a run of whole booking days at a time (up to ``max_rows`` rows where the days allow; a
    larger day is a run of its own), each run against ``history`` and the runs before it with their flags, as
    day-by-day scoring would. Yields each run's row positions in ``frame`` and its scores. Memory grows with the
    run and the history's inputs, not with the whole of ``frame``."""
    days = pd.to_datetime(frame["booked_date"]).dt.normalize().to_numpy()
    order = np.argsort(days, kind="stable")
    distinct, starts = np.unique(days[order], return_index=True)
    bounds = [*starts.tolist(), len(frame)]
    runs: list[tuple[int, int]] = []
    for day in range(len(distinct)):
        begin, end = bounds[day], bounds[day + 1]
        if runs and end - runs[-1][0] <= max_rows:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((begin, end))
    for begin, end in runs:
        positions = np.sort(order[begin:end])
        batch = frame.iloc[positions]
        scored = model.score(batch, history, threshold)
        yield positions, scored
        # (the history only feeds the signals' context: the columns it never reads are not carried along)
        done = batch.drop(columns=[c for c in _NOT_IN_CONTEXT if c in batch]).assign(
            is_flagged=scored["is_anomaly"].to_numpy()
        )
        history = done if history is None else pd.concat([history, done])


def score_in_days(
    model: AnomalyDetector,
    frame: pd.DataFrame,
    history: pd.DataFrame | None = None,
    threshold: float | None = None,
    max_rows: int = 1,
) -> pd.DataFrame:
    """Score ``frame`` one booking day at a time (``max_rows``: runs of days up to that many rows), each against
    everything before it (flags carried forward), as the incremental scoring asset does day after day. Returned in
    ``frame``'s order."""
    pieces = list(score_in_chunks(model, frame, history, threshold, max_rows))
    if not pieces:
        return model.score(frame, history, threshold)
    positions = np.concatenate([p for p, _ in pieces])
    return pd.concat([scored for _, scored in pieces]).iloc[np.argsort(positions, kind="stable")]


def timed_score(model: AnomalyDetector, batch: pd.DataFrame, history: pd.DataFrame | None = None) -> tuple:
    started = time.perf_counter()
    scored = model.score(batch, history)
    return scored, time.perf_counter() - started


TEXT_INPUTS = ("transaction_id", "source", "currency", "description", "counterparty", "category", "instrument")


def anomaly_input(frame: pd.DataFrame) -> pd.DataFrame:
    """The detector's input columns from a warehouse-shaped frame, with stable types: text as strings ("" when
    missing), dates as datetimes, amounts as floats. The card used (``instrument``) comes from ``extra`` when the
    frame has no such column. An ``is_flagged`` column (history) is kept."""
    out = pd.DataFrame(index=frame.index)
    for column in ANOMALY_INPUT_COLUMNS:
        if column in frame.columns:
            values = frame[column]
        elif column == "instrument" and "extra" in frame.columns:
            values = frame["extra"].map(lambda extra: extra.get("card_last4") if isinstance(extra, dict) else None)
        elif column == "amount_base" and "amount" in frame.columns:
            values = frame["amount"]
        else:
            values = pd.Series(None, index=frame.index, dtype=object)
        if column in TEXT_INPUTS:
            out[column] = values.fillna("").astype(str)  # (fill first: pandas 2 turns NaN into "nan")
        elif column in ("amount", "amount_base"):
            out[column] = pd.to_numeric(values, errors="coerce").astype(float)
        elif column == "booked_date":
            out[column] = pd.to_datetime(values)
        else:
            out[column] = pd.to_datetime(values, utc=True, errors="coerce")
    if "is_flagged" in frame.columns:
        out["is_flagged"] = frame["is_flagged"].astype(object).where(frame["is_flagged"].notna(), False).astype(bool)
    return out
