"""Proof on outside files: every parser over every real third-party file (shared fixtures and the accepted-deviation
files in ``tests/sources/deviations``), rows read compared with the reference library's count.

Reference counts are the ``parse`` column of the shared fixtures' SOURCES.md (mt-940 5.1.1, ofxparse 0.21, pycamt
1.1.1, bai2 0.15.0 run by the collector) and, for the deviation files, bai2 0.15.0 run on them. Where no library
reads a file (no library exists for the format, or the library fails on it) the count is the one the format's own
test counted from the file. A file whose count differs, or that is quarantined, needs an entry in ``DOCUMENTED``
with the reason and the test that pins it. The per-format table (files landed / total, rows read / expected) is
printed and recorded as the test's ``real_files`` property.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from finflow_assets.sources.parsers import ParseError, get_parser
from tests.sources import (
    test_parser_adyen,
    test_parser_bai2,
    test_parser_bank_csv,
    test_parser_camt053,
    test_parser_ecb_rates,
    test_parser_mt940,
    test_parser_ofx,
    test_parser_paypal,
    test_parser_stripe,
)

DEVIATIONS = Path(__file__).parent / "deviations"

# fixture folder -> (parser format, per-file options, file -> rows counted from the file by the format's test)
FORMATS: dict[str, tuple[str, Mapping[str, Mapping[str, Any]], Callable[[], dict[str, int]]]] = {
    "mt940": ("mt940", {}, lambda: {n: e[2] for n, e in test_parser_mt940.EXPECTED.items()}),
    "ofx": ("ofx", {}, lambda: {n: e[0] for n, e in test_parser_ofx.EXPECTED.items()}),
    "camt": ("camt053", {}, lambda: {n: e[1] for n, e in test_parser_camt053.EXPECTED.items()}),
    "bai2": ("bai2", test_parser_bai2.OPTIONS, lambda: {n: e[1] for n, e in test_parser_bai2.EXPECTED.items()}),
    "bank_csv": (
        "bank_csv",
        test_parser_bank_csv.OPTIONS,
        lambda: {n: e[0] for n, e in test_parser_bank_csv.EXPECTED.items()},
    ),
    "paypal": (
        "paypal_json",
        test_parser_paypal.OPTIONS,
        lambda: {n: e[0] for n, e in test_parser_paypal.EXPECTED.items()},
    ),
    "stripe": ("stripe_json", {}, lambda: {n: e[0] for n, e in test_parser_stripe.EXPECTED.items()}),
    "adyen": ("adyen_settlement_csv", {}, lambda: {n: len(e) for n, e in test_parser_adyen.EXPECTED.items()}),
    "ecb": ("ecb_rates_csv", {}, lambda: dict(test_parser_ecb_rates.EXPECTED)),
}

# file -> (reference library, transactions it reads)
REFERENCE: dict[str, tuple[str, int]] = {
    "abn_amro_nl__jejik.txt": ("mt-940", 10),
    "bunq_nl__phpmt940.sta": ("mt-940", 111),
    "citi__wolph.txt": ("mt-940", 5),
    "commerzbank_de__jejik.txt": ("mt-940", 1),
    "danske_bank_dk__mt940rs.sta": ("mt-940", 89),
    "danske_bank_fi__mt940rs.sta": ("mt-940", 6),
    "danske_bank_no__mt940rs.sta": ("mt-940", 24),
    "danske_bank_se__mt940rs.sta": ("mt-940", 103),
    "de_cmxl_dem__wolph.sta": ("mt-940", 16),
    "de_gv_codes__wolph.sta": ("mt-940", 2),
    "de_sepa_betterplace__wolph.sta": ("mt-940", 97),
    "deutsche_bank_de__jejik.txt": ("mt-940", 1),
    "hsbc__phpmt940.sta": ("mt-940", 1),
    "ing_nl_crlf__jejik.txt": ("mt-940", 7),
    "ing_nl_iban__zilverline.txt": ("mt-940", 21),
    "invalid_utf8__mt940rs.sta": ("mt-940", 7),
    "kbs__phpmt940.sta": ("mt-940", 3),
    "knab_nl__jejik.txt": ("mt-940", 3),
    "kontist_de__phpmt940.sta": ("mt-940", 6),
    "lbbw_de__jejik.txt": ("mt-940", 2),
    "mbank_pl__wolph.sta": ("mt-940", 3),
    "mbank_pl_mt942__wolph.sta": ("mt-940", 3),
    "moneyou_nl__zilverline.txt": ("mt-940", 2),
    "oldenburgische_landesbank_de__jejik.txt": ("mt-940", 1),
    "penta_de__phpmt940.sta": ("mt-940", 30),
    "postfinance_ch__jejik.txt": ("mt-940", 4),
    "rabobank_nl__jejik.txt": ("mt-940", 5),
    "rabobank_nl_structured__zilverline.txt": ("mt-940", 9),
    "rabobank_nl_swi__zilverline.sta": ("mt-940", 2),
    "sberbank_hu__wolph.sta": ("mt-940", 3),
    "sns_nl__jejik.txt": ("mt-940", 2),
    "sparkasse_buxtehude_de__mt940rs.sta": ("mt-940", 3),
    "sparkasse_de__jejik.txt": ("mt-940", 2),
    "sparkasse_de_interim_balance__jejik.txt": ("mt-940", 2),
    "triodos_nl__jejik.txt": ("mt-940", 2),
    "two_accounts_nl__zilverline.txt": ("mt-940", 3),
    "van_lanschot_nl__zilverline.txt": ("mt-940", 4),
    "volksbank_raiffeisen_de__jejik.txt": ("mt-940", 12),
    "ally_bank__reds.qfx": ("ofxparse", 2),
    "amex_creditcard_us__beangulp.ofx": ("ofxparse", 27),
    "banco_do_brasil__asgrim.ofx": ("ofxparse", 1),
    "banco_do_brasil_two_stmtrs__asgrim.ofx": ("ofxparse", 36),
    "banque_populaire_fr__asgrim.ofx": ("ofxparse", 6),
    "capitalone_360_checking__reds.qfx": ("ofxparse", 4),
    "checking2_us__beancountimport.ofx": ("ofxparse", 13),
    "comments__ledgerautosync.ofx": ("ofxparse", 2),
    "credit_mutuel_fr__asgrim.ofx": ("ofxparse", 42),
    "creditcard_gbp__asgrim.ofx": ("ofxparse", 1),
    "empty_datetime__asgrim.ofx": ("ofxparse", 2),
    "example__beangulp.qfx": ("ofxparse", 18),
    "iban_acctid__oca.ofx": ("ofxparse", 4),
    "latin1_accents__ledgerautosync.ofx": ("ofxparse", 1),
    "memo_ampersand__asgrim.ofx": ("ofxparse", 16),
    "multiple_accounts_xml__asgrim.ofx": ("ofxparse", 3),
    "no_institution__ledgerautosync.ofx": ("ofxparse", 3),
    "nubank_creditcard_br__ofxtools.ofx": ("ofxparse", 6),
    "ofx2_xml__asgrim.ofx": ("ofxparse", 3),
    "ofxdownload__beangulp.ofx": ("ofxparse", 12),
    "oneline__asgrim.ofx": ("ofxparse", 8),
    "spec160_stmtrs_example__libofx.ofx": ("ofxparse", 2),
    "spec201_stmtrs_example__libofx.ofx": ("ofxparse", 2),
    "stmtrs_euro__ofxtools.ofx": ("ofxparse", 2),
    "camt052_lt_2024-03-14__subite.xml": ("pycamt", 0),
    "camt052_sparkasse_de__ofxstatement-iso20022.xml": ("pycamt", 5),
    "camt052_v2__genkgo.xml": ("pycamt", 1),
    "camt052_v6_amt_zero__genkgo.xml": ("pycamt", 1),
    "camt053_be_month_large__subite.xml": ("pycamt", 268),
    "camt053_dnb_lt__ofxstatement-iso20022.xml": ("pycamt", 4),
    "camt053_dt_and_dttm__genkgo.xml": ("pycamt", 0),
    "camt053_gcamp6__ofxstatement-iso20022.xml": ("pycamt", 5),
    "camt053_lt_2024-03-14__subite.xml": ("pycamt", 14),
    "camt053_nl__oca.xml": ("pycamt", 4),
    "camt053_nl_example_a__newinnovations.xml": ("pycamt", 11),
    "camt053_nl_example_b__newinnovations.xml": ("pycamt", 19),
    "camt053_other_account_statement__subite.xml": ("pycamt", 3),
    "camt053_v2_all_balance_types__genkgo.xml": ("pycamt", 1),
    "camt053_v2_five_decimals__genkgo.xml": ("pycamt", 1),
    "camt053_v2_minimal__genkgo.xml": ("pycamt", 1),
    "camt053_v2_multi_statement__genkgo.xml": ("pycamt", 2),
    "camt053_v3__genkgo.xml": ("pycamt", 1),
    "camt053_v4__genkgo.xml": ("pycamt", 1),
    "camt053_v4_raiffeisen_ch__ofxstatement-iso20022.xml": ("pycamt", 16),
    "camt053_v8__genkgo.xml": ("pycamt", 1),
    "camt053_v8_redacted__ofxstatement-iso20022.xml": ("pycamt", 1),
    "sample1__moov.bai": ("bai2", 17),
    # tests/sources/deviations (see its SOURCES.md)
    "svb_us_example__moj-bai2.bai2": ("bai2", 2),
    "nwb_example__moj-bai2.bai2": ("bai2", 5),
    "account_trailer_amount_blank__moj-bai2.bai2": ("bai2", 0),
}

# file -> (rows we read, None = quarantined; why it differs from the reference; the test that pins it)
DOCUMENTED: dict[str, tuple[int | None, str, str]] = {
    "camt053_nl__oca.xml": (
        3,
        "a batch entry (1 Ntry, 2 TxDtls) is one record with the amount booked on the account (extra tx_count=2); "
        "pycamt counts the 2 TxDtls",
        "test_parser_camt053.py::test_fixture_counts_and_signs",
    ),
    "example__beangulp.qfx": (
        None,
        "an investment statement of security trades (BUYMF, REINVEST, TRANSFER), no cash-account lines; their "
        "TOTAL signs are broker-specific (positive buys here), so reading them could flip money",
        "test_parser_ofx.py::test_rejected_fixtures_raise_a_clear_parse_error",
    ),
    "ofx200_xml_banking__asgrim.ofx": (
        None,
        "the STMTTRN body is literally '*snipped*': no amount (ofxparse and ofxtools fail too)",
        "test_parser_ofx.py::test_rejected_fixtures_raise_a_clear_parse_error",
    ),
    "stripe_mock_fixtures3_subset.json": (
        None,
        "the collector's container of stripe-mock example objects, not a Stripe API response or report",
        "test_parser_stripe.py::test_out_of_scope_fixture_is_a_clear_parse_error",
    ),
    "sar_subscr_signup__smashpig.csv": (
        None,
        "a PayPal subscription agreement report: no money movements to land",
        "test_parser_paypal.py::test_out_of_scope_fixture_is_a_clear_parse_error",
    ),
}


def _files(shared_fixtures: Path) -> list[tuple[str, Path]]:
    found = [(folder, path) for folder in FORMATS for path in sorted((shared_fixtures / folder).glob("*"))]
    found += [("bai2", path) for path in sorted(DEVIATIONS.glob("*.bai2"))]
    found += [("ecb", path) for path in sorted(DEVIATIONS.glob("eurofxref*.csv"))]
    return [(folder, path) for folder, path in found if path.is_file()]


def _table(rows: dict[str, list[int]]) -> str:
    lines = [
        "format    files landed/total  rows read/expected  match reference library",
        *(
            f"{folder:9} {landed:>6}/{total:<12} {read:>6}/{expected:<11} {matched}/{referenced}"
            for folder, (landed, total, read, expected, matched, referenced) in rows.items()
        ),
    ]
    return "\n".join(lines)


def test_every_real_file_reads_the_reference_count(
    shared_fixtures: Path, capsys: pytest.CaptureFixture[str], record_property: Callable[[str, object], None]
) -> None:
    counted = {folder: spec[2]() for folder, spec in FORMATS.items()}
    problems: list[str] = []
    # format -> [files landed, files, rows read, rows expected, files matching a library, files with a library]
    table: dict[str, list[int]] = {folder: [0, 0, 0, 0, 0, 0] for folder in FORMATS}
    for folder, path in _files(shared_fixtures):
        format_name, options, _ = FORMATS[folder]
        name, error = path.name, ""
        try:
            read: int | None = len(get_parser(format_name)(path.read_bytes(), name, options.get(name, {})).records)
        except ParseError as exc:
            read, error = None, str(exc)
        library = REFERENCE.get(name)
        if name in DOCUMENTED:
            expected = DOCUMENTED[name][0]
        elif library is not None:
            expected = library[1]
        elif name in counted[folder]:
            expected = counted[folder][name]
        else:
            problems.append(f"{folder}/{name}: no reference count, file count or documented reason")
            continue
        if read != expected:
            problems.append(f"{folder}/{name}: read {read}, expected {expected} {error}".rstrip())
        row = table[folder]
        row[0] += read is not None
        row[1] += 1
        row[2] += read or 0
        row[3] += library[1] if library else (expected or 0)
        if library is not None:
            row[5] += 1
            row[4] += read == library[1]
    report = _table(table)
    record_property("real_files", report)
    with capsys.disabled():
        print(f"\nreal third-party files per format:\n{report}")
    assert not problems, "\n".join(problems)
    assert sum(row[1] for row in table.values()) >= len(DOCUMENTED)


def test_documented_files_are_real_and_still_differ(shared_fixtures: Path) -> None:
    """Each documented exception names a file that exists, and its pinning test is in the named module."""
    names = {path.name for _, path in _files(shared_fixtures)}
    for name, (read, reason, test) in DOCUMENTED.items():
        assert name in names, name
        module, function = test.split("::")
        assert f"def {function}(" in (Path(__file__).parent / module).read_text(), test
        assert reason and (read is None or read != REFERENCE.get(name, ("", read))[1])
