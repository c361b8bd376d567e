"""MLflow model registry helpers: log and register a model, promote it by alias, load the champion."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

CHAMPION = "champion"

# log_model would otherwise run pip to infer requirements, which needs the network
os.environ.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    run_id: str


def _mlflow(tracking_uri: str):  # noqa: ANN202 - imported lazily: importing mlflow costs seconds
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return mlflow


def ensure_experiment(tracking_uri: str, name: str, artifact_location: str | None = None) -> str:
    mlflow = _mlflow(tracking_uri)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        return mlflow.create_experiment(name, artifact_location=artifact_location)
    return experiment.experiment_id


def log_sklearn_model(
    tracking_uri: str,
    *,
    experiment: str,
    model_name: str,
    model: Any,
    input_example: Any,
    params: dict[str, Any],
    metrics: dict[str, float],
    artifact_location: str | None = None,
    trusted_types: list[str] | None = None,
) -> RegisteredModel:
    """One MLflow run: params, metrics, the fitted model with signature and example, registered as a new version.

    Models are saved with skops (MLflow's safe default, no pickle); ``trusted_types`` names the few non-standard
    types the model holds, which loading will accept and nothing else.
    """
    mlflow = _mlflow(tracking_uri)
    from mlflow.models import infer_signature

    experiment_id = ensure_experiment(tracking_uri, experiment, artifact_location)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        signature = infer_signature(input_example, model.predict(input_example))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=input_example,
            registered_model_name=model_name,
            skops_trusted_types=trusted_types,
        )
    return RegisteredModel(model_name, str(info.registered_model_version), run.info.run_id)


def set_champion(tracking_uri: str, model_name: str, version: str) -> None:
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri).set_registered_model_alias(
        model_name, CHAMPION, version
    )


def champion_version(tracking_uri: str, model_name: str) -> str | None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        return str(client.get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return None


def load_champion(tracking_uri: str, model_name: str) -> tuple[Any, str]:
    """The champion model (as its native sklearn object) and its version; raises if there is none."""
    mlflow = _mlflow(tracking_uri)
    version = champion_version(tracking_uri, model_name)
    if version is None:
        raise LookupError(f"model {model_name!r} has no {CHAMPION!r} version in the registry at {tracking_uri}")
    return mlflow.sklearn.load_model(f"models:/{model_name}@{CHAMPION}"), version
