"""The console of the long commands: progress and results on the terminal, everything else in the log file."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest


@pytest.fixture
def console(tmp_path, monkeypatch):
    from finflow_assets.console import Console

    monkeypatch.setenv("FINFLOW_HOME", str(tmp_path))
    with Console("test") as shown:
        yield shown


def test_quiet_sends_python_and_subprocess_output_to_the_log(console, capfd) -> None:
    with console.quiet():
        print("python chatter")
        print("a warning from a library", file=sys.stderr)
        subprocess.run([sys.executable, "-c", "import sys; print('dbt says hi'); sys.stderr.write('dbt warns')"])
        logging.getLogger("finflow.test").warning("logged inside")
        console.line("  sources landed  12/12")
    out, err = capfd.readouterr()
    assert "sources landed  12/12" in out and out.rstrip().endswith(" s")
    assert not [word for word in ("chatter", "library", "dbt", "logged") if word in out + err], (out, err)
    log = console.log_path.read_text()
    for word in ("python chatter", "a warning from a library", "dbt says hi", "dbt warns", "logged inside"):
        assert word in log
    assert console.log_path.parent.name == "logs"


def test_outside_quiet_the_terminal_is_untouched(console, capfd) -> None:
    print("summary line")
    assert "summary line" in capfd.readouterr().out


def test_every_asset_the_pipeline_materializes_belongs_to_a_stage() -> None:
    import dagster as dg

    from finflow_assets.console import STAGES, stage_of
    from finflow_assets.definitions import all_assets

    specs = [spec for a in all_assets if not isinstance(a, dg.AssetSpec) for spec in a.specs]
    stages = {spec.key.to_user_string(): stage_of(spec.group_name, spec.kinds, spec.tags) for spec in specs}
    assert not [key for key, stage in stages.items() if stage is None]
    assert set(stages.values()) == set(STAGES)
    assert stages["raw_bank_eu"] == "sources landed" and stages["stg_stripe__transactions"] == "dbt models built"
    assert stages["fct_transactions"] == "transactions scored"  # built on the scores, after them
    assert stages["categorizer_model"] == "models trained" and stages["transaction_anomalies"] == "transactions scored"


def test_verbose_flag_is_accepted_after_the_command() -> None:
    from finflow_assets.cli import build_parser

    assert build_parser().parse_args(["demo", "-v"]).verbose is True
    assert build_parser().parse_args(["-v", "demo"]).verbose is True
    assert build_parser().parse_args(["demo"]).verbose is False
