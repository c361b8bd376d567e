"""The executor of every FinFlow job, chosen by ``FINFLOW_EXECUTOR`` where the code location loads.

- ``in_process`` (default): a run's steps run in the run's own process. Starting a Python process per step costs
  more than most steps here take (each re-imports Dagster, dbt-core, pandas, MLflow), and one machine gains little
  from running the few independent steps side by side.
- ``multiprocess``: a process per step, up to the CPU count at once: a failing or leaking step cannot take the run
  down with it, and independent sources and models run in parallel on a bigger machine.
- ``k8s``: a Kubernetes job per step (dagster-k8s's ``k8s_job_executor``; install ``dagster-k8s``), for a
  deployment whose run launcher is the ``K8sRunLauncher`` (docs/deploy.md).
"""

from __future__ import annotations

import os

import dagster as dg

from .settings import EXECUTOR_ENV

EXECUTORS = ("in_process", "multiprocess", "k8s")


def run_executor(choice: str | None = None) -> dg.ExecutorDefinition:
    """The executor named by ``choice`` (default: ``FINFLOW_EXECUTOR``, else ``in_process``)."""
    name = (choice if choice is not None else os.environ.get(EXECUTOR_ENV, "")).strip().lower() or "in_process"
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multiprocess_executor
    if name == "k8s":
        try:
            from dagster_k8s import k8s_job_executor
        except ImportError as error:
            raise RuntimeError(
                f"{EXECUTOR_ENV}=k8s needs the dagster-k8s package (pip install dagster-k8s, the version matching "
                f"dagster's), which is not installed here ({error})"
            ) from error
        return k8s_job_executor
    raise ValueError(f"{EXECUTOR_ENV}={name!r} is not an executor FinFlow knows; choose one of {', '.join(EXECUTORS)}")
