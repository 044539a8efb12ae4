"""Mapping layer of lowbit: workloads from model configs, quantization recipes, and the mapper
that turns a workload into a schedule of tiles for the simulator. Imports only ``hw``."""
from __future__ import annotations

from ._mapper import (Candidate, GemmMapping, MapperLimits, MapperSearch, Step, VectorMapping, block_quantum,
                      gemm_steps, map_gemms, map_op, steps_of, vector_steps)
from ._models import FIELD_LIMITS, MODEL_NAMES, MODEL_TYPES, ModelConfig, load_model, model_from_dict
from ._recipes import RECIPE_NAMES, Recipe, load_recipe_toml, parse_recipe, recipe_from_dict
from ._workload import VECTOR_FUNCTIONS, GemmOp, Op, VectorOp, layer_ops, model_ops
from .errors import CheckpointError, MappingError, ModelConfigError, RecipeError
from ._checkpoint import CHECKPOINT_FAMILIES, Checkpoint, load_checkpoint

__all__ = [
    "CHECKPOINT_FAMILIES", "Candidate", "Checkpoint", "CheckpointError", "load_checkpoint",
    "GemmMapping", "GemmOp", "MODEL_NAMES", "MapperLimits", "MapperSearch", "MappingError", "ModelConfig",
    "ModelConfigError", "Op", "RECIPE_NAMES", "Recipe", "RecipeError", "Step", "VECTOR_FUNCTIONS",
    "VectorMapping", "VectorOp", "block_quantum", "gemm_steps", "layer_ops", "load_model",
    "load_recipe_toml", "map_gemms", "map_op", "model_from_dict", "parse_recipe", "recipe_from_dict", "steps_of",
    "vector_steps",
]
