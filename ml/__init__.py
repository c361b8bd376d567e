"""FinFlow's machine learning as a plain library: features, models, evaluation, registry helpers.

No Dagster imports here: the Dagster assets in ``finflow_assets.intelligence`` are thin callers.
"""
