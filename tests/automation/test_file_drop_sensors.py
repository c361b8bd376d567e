"""File-drop sensors: a new file launches one run for its source and what follows, once per set of files."""

import dagster as dg

from finflow_assets.automation.sensors import file_drop_sensors

SENSORS = {s.name: s for s in file_drop_sensors}


def _evaluate(name: str):
    with dg.instance_for_test() as instance:
        return SENSORS[name](dg.build_sensor_context(instance=instance))


def test_every_file_drop_source_has_a_sensor():
    assert set(SENSORS) == {
        f"{name}_file_drop"
        for name in ("bank_operating", "bank_payroll", "bank_eu", "bank_treasury", "bank_lockbox", "payroll", "erp_gl")
    } | {"fx_rates_ecb_file_drop"}  # the ECB exchange-rate files, a reference source landed the same way


def test_new_file_requests_one_run_keyed_by_the_files(finflow_home):
    folder = finflow_home.landing_for("bank_payroll")
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob("*.ofx"):
        leftover.unlink()
    assert isinstance(_evaluate("bank_payroll_file_drop"), dg.SkipReason)

    (folder / "stmt_1.ofx").write_text("<OFX></OFX>")
    first = _evaluate("bank_payroll_file_drop").run_requests
    again = _evaluate("bank_payroll_file_drop").run_requests
    assert len(first) == 1 and first[0].run_key == again[0].run_key  # the same drop never launches two runs
    assert first[0].tags["finflow/source"] == "bank_payroll"

    (folder / "stmt_2.ofx").write_text("<OFX></OFX>")
    assert _evaluate("bank_payroll_file_drop").run_requests[0].run_key != first[0].run_key
    for path in folder.glob("*.ofx"):
        path.unlink()


def test_files_of_other_formats_are_not_picked_up(finflow_home):
    folder = finflow_home.landing_for("bank_treasury")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.docx").write_text("not a statement")
    assert isinstance(_evaluate("bank_treasury_file_drop"), dg.SkipReason)
    (folder / "notes.docx").unlink()
