"""Security basics, each proved: localhost-only services, no string-built SQL, masked secrets, safe report CSVs.

(API tokens never appearing in logs or errors is proved in tests/sources/test_api_connectors.py.)
"""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from finflow_assets.cli import build_parser
from finflow_assets.reports.files import spreadsheet_safe, write_csv
from finflow_assets.warehouse import describe_url
from finflow_simulator.api_server import serve

REPO = Path(__file__).resolve().parents[1]


def test_dagster_ui_binds_to_localhost_by_default():
    assert build_parser().parse_args(["ui"]).host == "127.0.0.1"


def test_simulated_apis_bind_to_loopback_only(tmp_path):
    with pytest.raises(ValueError, match="loopback"):
        with serve(tmp_path, host="0.0.0.0"):
            pass
    with serve(tmp_path) as server:
        assert server.url.startswith("http://127.0.0.1:")


def test_no_sql_is_built_from_strings():
    """ruff's S608 (bandit's string-built SQL check) over all product code: data only travels as parameters."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    folders = [str(REPO / name) for name in ("finflow_assets", "finflow_simulator", "ml")]
    result = subprocess.run(
        [ruff, "check", "--select", "S608", "--no-cache", *folders], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_database_password_is_masked_for_logs_and_ui():
    shown = describe_url("postgresql://finflow:hunter2@db.example.internal:5432/finflow")
    assert "hunter2" not in shown and "***" in shown


def test_report_csv_cells_never_run_as_formulas(tmp_path):
    rows = [('=HYPERLINK("http://evil")', "+1+2", "-3", "@SUM(A1)", "\t=1", -12.5, "plain")]
    path = write_csv(tmp_path / "report.csv", ["a", "b", "c", "d", "e", "amount", "f"], rows)
    with path.open(newline="") as handle:
        cells = list(csv.reader(handle))[1]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t")) for cell in cells[:5])
    assert cells[5] == "-12.5"  # numbers stay numbers: a negative amount is not text
    assert spreadsheet_safe("=1") == "'=1"
