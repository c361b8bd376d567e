"""A seeded simulator of a company's finance sources, with the ground truth kept apart."""

from .generate import SimulationResult, generate

__all__ = ["SimulationResult", "generate"]
