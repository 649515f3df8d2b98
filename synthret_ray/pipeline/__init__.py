"""One-command recipes: synthesis, training and evaluation stages in one run folder (``synthret run``)."""

from __future__ import annotations

from synthret_ray.pipeline.config import RecipeConfig
from synthret_ray.pipeline.runner import PipelineError, run_recipe, stages_of

__all__ = ["PipelineError", "RecipeConfig", "run_recipe", "stages_of"]
