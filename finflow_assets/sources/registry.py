"""The sources FinFlow pulls, as data: one entry per source, turned into ``raw_<name>`` assets by one factory.

Adding a source means adding an entry here, a parser for its format (if new) in ``parsers/``, and a staging
model ``dbt_project/models/staging/<name>/stg_<name>__transactions.sql``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


AuthScheme = Literal["bearer", "stripe", "paypal_oauth2", "adyen"]

# credential role -> the suffix of its environment variable (after FINFLOW_<SOURCE>)
CREDENTIAL_SUFFIXES: Mapping[str, str] = MappingProxyType(
    {
        "key": "_API_KEY",
        "account": "_ACCOUNT",
        "client_id": "_CLIENT_ID",
        "client_secret": "_CLIENT_SECRET",
        "username": "_USERNAME",
        "password": "_PASSWORD",
    }
)
# scheme -> credential roles it reads (see connectors/auth.py for how each is sent)
SCHEME_ROLES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "bearer": ("key",),  # Authorization: Bearer <key> (the internal systems)
        "stripe": ("key", "account"),  # secret sk_ or restricted rk_ key; optional Stripe-Account header
        "paypal_oauth2": ("client_id", "client_secret"),  # OAuth2 client credentials -> short-lived Bearer tokens
        "adyen": ("key", "username", "password"),  # X-API-Key header, or basic auth (report user)
    }
)


@dataclass(frozen=True)
class AuthSpec:
    """How an API source authenticates: a scheme and the environment variables holding its credentials."""

    scheme: AuthScheme
    env: Mapping[str, str]  # credential role -> environment variable name

    @classmethod
    def named(cls, scheme: AuthScheme, prefix: str) -> AuthSpec:
        """The scheme's variables named ``<prefix><suffix>``, e.g. ``FINFLOW_PAYPAL_CLIENT_ID``."""
        return cls(
            scheme, MappingProxyType({role: prefix + CREDENTIAL_SUFFIXES[role] for role in SCHEME_ROLES[scheme]})
        )

    def describe(self) -> str:
        """The variables to check, for error messages (names only, never values)."""
        return " / ".join(self.env.values())


@dataclass(frozen=True)
class ApiSpec:
    """How an API source is pulled. URLs and credentials come from the environment, never from code."""

    path: str  # endpoint path under the base URL
    pagination: Literal["cursor", "date_window", "report_download"]
    base_url_env: str  # e.g. FINFLOW_STRIPE_API_URL
    auth: AuthSpec
    page_size: int = 100
    window: timedelta = timedelta(days=7)  # date_window: the span of one request
    # re-read this much before the watermark on each pull, to catch late-arriving records; rows already landed
    # (same external id) are skipped, so the overlap never lands anything twice
    overlap: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class SourceSpec:
    """One source system and how its data arrives."""

    name: str
    system: str
    kind: Literal["file_drop", "api"]
    format: str
    description: str
    # file drops: which files in landing/<name>/ belong to the source
    file_patterns: tuple[str, ...] = ("*",)
    parser_options: Mapping[str, Any] = field(default_factory=dict)
    # how often a delivery is expected; a longer silence fails the source's freshness check
    expected_every: timedelta = timedelta(days=1)
    api: ApiSpec | None = None
    # file drops: an optional environment variable with a URL the file can also be fetched from (the ECB's zip)
    download_url_env: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"source name {self.name!r} must be a lower-case identifier")
        if (self.kind == "api") != (self.api is not None):
            raise ValueError(f"source {self.name!r}: API sources need an ApiSpec, file drops none")
        object.__setattr__(self, "parser_options", MappingProxyType(dict(self.parser_options)))

    @property
    def asset_name(self) -> str:
        return f"raw_{self.name}"

    @property
    def raw_table(self) -> str:
        return self.name


def _api(name: str, path: str, pagination: str, auth: AuthScheme = "bearer", **kwargs: Any) -> ApiSpec:
    prefix = f"FINFLOW_{name.upper()}"
    return ApiSpec(path, pagination, f"{prefix}_API_URL", AuthSpec.named(auth, prefix), **kwargs)  # type: ignore[arg-type]


SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec(
        name="bank_operating",
        system="Main operating account",
        kind="file_drop",
        format="bank_csv",
        description="Daily CSV export of the main operating account (Date, Description, Debit, Credit, Balance).",
        file_patterns=("*.csv", "*.CSV"),
        parser_options={
            "columns": {
                "date": "Date",
                "description": "Description",
                "debit": "Debit",
                "credit": "Credit",
                "balance": "Balance",
            },
            "date_format": "%m/%d/%Y",
            "currency": "USD",
        },
    ),
    SourceSpec(
        name="bank_payroll",
        system="Payroll account",
        kind="file_drop",
        format="ofx",
        description="OFX/QFX statement download of the payroll account.",
        file_patterns=("*.ofx", "*.qfx", "*.OFX", "*.QFX"),
    ),
    SourceSpec(
        name="bank_eu",
        system="EUR account",
        kind="file_drop",
        format="mt940",
        description="SWIFT MT940 end-of-day statements of the EUR account, delivered SFTP-style.",
        file_patterns=("*.sta", "*.mt940", "*.txt", "*.940"),
    ),
    SourceSpec(
        name="bank_treasury",
        system="Treasury account",
        kind="file_drop",
        format="camt053",
        description="ISO 20022 camt.053 XML statements of the treasury account.",
        file_patterns=("*.xml", "*.XML"),
    ),
    SourceSpec(
        name="bank_lockbox",
        system="Receivables lockbox",
        kind="file_drop",
        format="bai2",
        description="BAI2 cash-management files of the receivables lockbox.",
        file_patterns=("*.bai", "*.bai2", "*.txt"),
    ),
    SourceSpec(
        name="stripe",
        system="Card payments (Stripe)",
        kind="api",
        format="stripe_json",
        description="Stripe balance transactions (charges, refunds, fees, payouts), pulled in cursor pages.",
        expected_every=timedelta(hours=1),
        api=_api("stripe", "/v1/balance_transactions", "cursor", auth="stripe"),
    ),
    SourceSpec(
        name="paypal",
        system="Wallet payments (PayPal)",
        kind="api",
        format="paypal_json",
        description="PayPal Transaction Search, pulled in date windows.",
        expected_every=timedelta(hours=1),
        api=_api("paypal", "/v1/reporting/transactions", "date_window", auth="paypal_oauth2", window=timedelta(days=1)),
    ),
    SourceSpec(
        name="adyen",
        system="Card payments EU (Adyen)",
        kind="api",
        format="adyen_settlement_csv",
        description="Adyen settlement details reports, downloaded over HTTP when a new batch is published.",
        api=_api("adyen", "/reports", "report_download", auth="adyen"),
    ),
    SourceSpec(
        name="billing",
        system="Invoicing and receipts (AR)",
        kind="api",
        format="billing_json",
        description="Payments received against invoices, pulled incrementally by update time.",
        expected_every=timedelta(hours=1),
        api=_api("billing", "/v1/payments", "cursor"),
    ),
    SourceSpec(
        name="expenses",
        system="Corporate cards",
        kind="api",
        format="expenses_json",
        description="Corporate card transactions, pulled in posting-date windows.",
        expected_every=timedelta(hours=1),
        api=_api("expenses", "/v1/transactions", "date_window", window=timedelta(days=1)),
    ),
    SourceSpec(
        name="payroll",
        system="Payroll runs",
        kind="file_drop",
        format="bank_csv",
        description="Payroll run register, one line per employee payment (net pay leaves the payroll account).",
        file_patterns=("*.csv",),
        parser_options={
            "columns": {
                "date": "pay_date",
                "external_id": "line_id",
                "counterparty": "employee_name",
                "description": "description",
                "amount": "net_pay",
                "currency": "currency",
                "reference": "run_id",
            },
            "date_format": "%Y-%m-%d",
            "negate": True,
        },
    ),
    SourceSpec(
        name="erp_gl",
        system="General ledger",
        kind="file_drop",
        format="bank_csv",
        description="General-ledger journal lines on cash accounts, with the account's category (labeled history).",
        file_patterns=("*.csv",),
        parser_options={
            "columns": {
                "date": "posting_date",
                "external_id": "line_id",
                "account": "account_code",
                "description": "description",
                "counterparty": "counterparty",
                "amount": "amount",
                "currency": "currency",
                "reference": "document_ref",
                "type": "account_name",
            },
            "date_format": "%Y-%m-%d",
        },
    ),
)

# Reference data landed like the sources above (file drop, raw.<name>, load journal) but holding no transactions:
# dbt reads them for conversions, they are not in the transaction union (dbt var finflow_sources).
REFERENCE_SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec(
        name="fx_rates_ecb",
        system="ECB euro reference rates",
        kind="file_drop",
        format="ecb_rates_csv",
        description="The ECB's euro foreign exchange reference rates (eurofxref.csv daily, eurofxref-hist.csv "
        "history): transactions convert to the base currency at their booking day's rate.",
        file_patterns=("eurofxref*.csv", "*.csv", "*.zip"),
        expected_every=timedelta(days=4),  # TARGET business days: none on weekends and Easter
        download_url_env="FINFLOW_FX_RATES_ECB_URL",
    ),
)

SOURCES_BY_NAME: dict[str, SourceSpec] = {spec.name: spec for spec in (*SOURCES, *REFERENCE_SOURCES)}


def get_source(name: str) -> SourceSpec:
    try:
        return SOURCES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {sorted(SOURCES_BY_NAME)}") from None
