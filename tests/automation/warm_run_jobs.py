"""Jobs for the warm-run-worker tests: one that records which process ran it, one that waits to be terminated."""

import os
import time
from pathlib import Path

import dagster as dg


@dg.op(config_schema={"record": str})
def record_the_worker(context: dg.OpExecutionContext) -> None:
    Path(context.op_config["record"]).write_text(f"{os.getpid()} {os.getppid()}")


@dg.op
def wait_to_be_terminated() -> None:
    time.sleep(120)


@dg.job(executor_def=dg.in_process_executor)  # the op runs in the run worker itself
def recorded() -> None:
    record_the_worker()


@dg.job(executor_def=dg.in_process_executor)  # the op runs in the run worker itself
def waiting() -> None:
    wait_to_be_terminated()


defs = dg.Definitions(jobs=[recorded, waiting])
