"""MLflow helpers: log a training run (params, metrics, artifacts, the model with signature and example), register
it, promote it to the ``champion`` alias only when it beats the current champion, load the champion."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHAMPION = "champion"

# log_model would otherwise run pip to infer requirements, which needs the network
os.environ.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    run_id: str
    experiment_id: str = ""


@dataclass(frozen=True)
class Promotion:
    """The outcome of the champion gate for one new version."""

    promoted: bool
    champion_version: str  # the champion after the gate
    previous_version: str | None
    candidate_score: float
    previous_score: float | None
    reason: str


@dataclass
class Artifacts:
    """Files for a run's ``artifacts/`` folder: frames as CSV, figures as PNG, text as is."""

    frames: dict[str, Any] = field(default_factory=dict)  # name.csv -> pandas DataFrame
    figures: dict[str, Callable[[Any], None]] = field(default_factory=dict)  # name.png -> draw(axes)
    texts: dict[str, str] = field(default_factory=dict)  # name -> content


_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def _mlflow(tracking_uri: str):  # noqa: ANN202 - imported lazily: importing mlflow costs seconds
    """MLflow pointed at ``tracking_uri`` (tracking and registry) for this process's fluent calls.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI`` (and the registry call its variable) into
    the process environment, which FinFlow's own settings read: one call with a test's or a user's store would
    silently redirect everything after it. The variables are put back as they were; MLflow keeps its own copy.
    """
    import mlflow

    saved = {name: os.environ.get(name) for name in _URI_VARIABLES}
    try:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return mlflow


def _client(tracking_uri: str):  # noqa: ANN202
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def default_artifact_location(tracking_uri: str) -> str | None:
    """Where a new experiment's artifacts go when the caller names no place: beside a SQLite or file store
    (``<folder of mlflow.db>/artifacts``), so nothing lands in the working directory; a tracking server decides
    for itself (None).

    MLflow's own default for a database store is ``./mlruns`` relative to the current directory, which is how a
    stray ``mlruns/`` folder appears in whatever folder a training happened to run from.
    """
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri.removeprefix("sqlite:///")).resolve().parent / "artifacts").as_uri()
    if tracking_uri.startswith("file:") or "://" not in tracking_uri:
        folder = Path(tracking_uri.removeprefix("file://").removeprefix("file:"))
        return (folder.resolve() / "artifacts").as_uri()
    return None


def ensure_experiment(tracking_uri: str, name: str, artifact_location: str | None = None) -> str:
    mlflow = _mlflow(tracking_uri)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        location = artifact_location or default_artifact_location(tracking_uri)
        return mlflow.create_experiment(name, artifact_location=location)
    return experiment.experiment_id


def _requirements() -> list[str]:
    """The model's runtime, pinned to what trained it (MLflow would otherwise infer it in a subprocess: ~10 s).
    Loading also needs FinFlow's ``ml`` package, which the trusted types name."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "pandas", "numpy", "scipy")]


def _write_artifacts(folder: Path, artifacts: Artifacts) -> None:
    for name, frame in artifacts.frames.items():
        frame.to_csv(folder / name, index=getattr(frame.index, "name", None) is not None)
    if artifacts.figures:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        for name, draw in artifacts.figures.items():
            figure, axes = plt.subplots(figsize=(7, 5))
            draw(axes)
            figure.tight_layout()
            figure.savefig(folder / name, dpi=90)
            plt.close(figure)
    for name, text in artifacts.texts.items():
        (folder / name).write_text(text, encoding="utf-8")


def log_sklearn_model(
    tracking_uri: str,
    *,
    experiment: str,
    model_name: str,
    model: Any,
    input_example: Any,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    artifact_location: str | None = None,
    trusted_types: list[str] | None = None,
    artifacts: Artifacts | None = None,
    tags: Mapping[str, str] | None = None,
) -> RegisteredModel:
    """One MLflow run: params, metrics, artifacts, the fitted model with signature and example, registered as a
    new version (carrying ``tags``).

    Models are saved with skops (MLflow's safe default, no pickle); ``trusted_types`` names the few non-standard
    types the model holds, which loading will accept and nothing else.
    """
    mlflow = _mlflow(tracking_uri)
    from mlflow.models import infer_signature

    experiment_id = ensure_experiment(tracking_uri, experiment, artifact_location)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params({key: str(value)[:500] for key, value in params.items()})
        mlflow.log_metrics({key: float(value) for key, value in metrics.items()})
        if tags:
            mlflow.set_tags(dict(tags))
        if artifacts is not None:
            with tempfile.TemporaryDirectory() as folder:
                _write_artifacts(Path(folder), artifacts)
                mlflow.log_artifacts(folder, artifact_path="evaluation")
        signature = infer_signature(input_example, model.predict(input_example))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=input_example,
            registered_model_name=model_name,
            skops_trusted_types=trusted_types,
            pip_requirements=_requirements(),
        )
    version = str(info.registered_model_version)
    client = _client(tracking_uri)
    for key, value in (tags or {}).items():
        client.set_model_version_tag(model_name, version, key, str(value))
    return RegisteredModel(model_name, version, run.info.run_id, experiment_id)


def set_champion(tracking_uri: str, model_name: str, version: str) -> None:
    _client(tracking_uri).set_registered_model_alias(model_name, CHAMPION, version)


def champion_version(tracking_uri: str, model_name: str) -> str | None:
    """The champion's version, or None when the model or its alias does not exist yet.

    Any other failure (the store is unreachable, a broken database) is raised: "no champion" must never be
    mistaken for "cannot tell", or a pipeline would retrain or skip scoring when the store is merely down.
    """
    from mlflow.exceptions import MlflowException

    try:
        return str(_client(tracking_uri).get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def version_tags(tracking_uri: str, model_name: str, version: str) -> dict[str, str]:
    return dict(_client(tracking_uri).get_model_version(model_name, version).tags)


def load_version(tracking_uri: str, model_name: str, version: str) -> Any:
    mlflow = _mlflow(tracking_uri)
    return mlflow.sklearn.load_model(f"models:/{model_name}/{version}")


def load_champion(tracking_uri: str, model_name: str) -> tuple[Any, str]:
    """The champion model (as its native sklearn object) and its version; raises if there is none."""
    mlflow = _mlflow(tracking_uri)
    version = champion_version(tracking_uri, model_name)
    if version is None:
        raise LookupError(f"model {model_name!r} has no {CHAMPION!r} version in the registry at {tracking_uri}")
    return mlflow.sklearn.load_model(f"models:/{model_name}@{CHAMPION}"), version


def promote_if_better(
    tracking_uri: str,
    model_name: str,
    candidate: RegisteredModel,
    candidate_score: float,
    score_champion: Callable[[Any, dict[str, str]], float],
) -> Promotion:
    """Give ``candidate`` the champion alias if it scores at least as well as the current champion on the same
    held-out data (``score_champion(model, version_tags)`` scores the champion there; ties go to the newer model,
    trained on fresher data). A champion that can no longer be loaded or scored loses to any candidate."""
    previous = champion_version(tracking_uri, model_name)
    client = _client(tracking_uri)
    if previous is None:
        set_champion(tracking_uri, model_name, candidate.version)
        outcome = Promotion(True, candidate.version, None, candidate_score, None, "no champion yet")
    else:
        try:
            model = load_version(tracking_uri, model_name, previous)
            tags = version_tags(tracking_uri, model_name, previous)
            previous_score: float | None = float(score_champion(model, tags))
        except Exception as error:  # noqa: BLE001 - an unusable champion (old input schema...) must not block
            previous_score = None
            reason = f"champion v{previous} could not be scored ({type(error).__name__}: {error})"[:300]
        else:
            reason = f"candidate {candidate_score:.5f} vs champion v{previous} {previous_score:.5f}"
        promoted = previous_score is None or candidate_score >= previous_score
        if promoted:
            set_champion(tracking_uri, model_name, candidate.version)
        outcome = Promotion(
            promoted,
            candidate.version if promoted else previous,
            previous,
            candidate_score,
            previous_score,
            reason,
        )
    client.set_model_version_tag(model_name, candidate.version, "gate", "promoted" if outcome.promoted else "rejected")
    client.set_model_version_tag(model_name, candidate.version, "gate_reason", outcome.reason)
    client.set_tag(candidate.run_id, "promoted", str(outcome.promoted).lower())
    client.log_metric(candidate.run_id, "gate_candidate_score", candidate_score)
    if outcome.previous_score is not None:
        client.log_metric(candidate.run_id, "gate_champion_score", outcome.previous_score)
    return outcome
