"""The dbt command FinFlow's Dagster steps run (``finflow-dbt``): dbt-core's own CLI, unchanged, except that it
leaves as soon as dbt is done.

A dbt process that has finished (artifacts written, connections closed, every event printed) still spends about
0.3 s tearing down the modules it imported before the operating system may end it, and a 15-minute tick runs dbt
twice. Here the exit handlers run as usual (multiprocessing's clean-up among them), the output is flushed, and the
process ends without the teardown. Inside a pipeline run the command runs on the run's warm dbt (``dbt_server``).
"""

from __future__ import annotations

import atexit
import os
import sys


def run_dbt() -> int:
    """dbt's CLI on ``sys.argv``, then what the interpreter would run at exit; returns the exit status."""
    from dbt.cli.main import cli

    try:
        cli()
        code: object = 0
    except SystemExit as finished:
        code = finished.code
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if not isinstance(code, int | None):
        print(code, file=sys.stderr)  # what sys.exit would have printed
    atexit._run_exitfuncs()  # noqa: SLF001 - what the interpreter would run at exit, then skip its teardown
    sys.stdout.flush()
    sys.stderr.flush()
    return status


def main() -> None:
    """On the run's warm dbt server when there is one (``dbt_server``: no 1.1 s import), else in this process."""
    server = os.environ.get("FINFLOW_DBT_SERVER")
    if server:
        from .dbt_server import run_on_server

        status = run_on_server(server, sys.argv)
        if status is not None:
            os._exit(status)
    os._exit(run_dbt())


if __name__ == "__main__":
    main()
