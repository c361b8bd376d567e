"""Where the dbt project's seeds (reference data the models share with the warehouse) are: the clone's
``dbt_project/``, or the copy an installed FinFlow ships inside its package (``finflow_assets/dbt_project``).
``ml`` imports nothing of ``finflow_assets``, so it looks for the folder itself."""

from __future__ import annotations

from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]


def seed_path(name: str) -> Path:
    """The seed file ``name`` (e.g. ``fx_rates.csv``) of the dbt project this code runs with."""
    for project in (_ROOT / "dbt_project", _ROOT / "finflow_assets" / "dbt_project"):
        if (project / "dbt_project.yml").is_file():
            return project / "seeds" / name
    raise FileNotFoundError(f"no dbt project beside {_ROOT} (looked for dbt_project/ and finflow_assets/dbt_project/)")
