"""The dbt command FinFlow's Dagster steps run (``finflow-dbt``): dbt-core's own CLI, unchanged, except that it
leaves as soon as dbt is done.

A dbt process that has finished (artifacts written, connections closed, every event printed) still spends about
0.3 s tearing down the modules it imported before the operating system may end it, and a 15-minute tick runs dbt
twice. Here the exit handlers run as usual (multiprocessing's clean-up among them), the output is flushed, and the
process ends without the teardown.
"""

from __future__ import annotations

import atexit
import os
import sys


def main() -> None:
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
    os._exit(status)


if __name__ == "__main__":
    main()
