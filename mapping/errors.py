"""Exceptions raised by the ``mapping`` package (model configs, recipes, the mapper).

Each is worded "<what> must be <rule>, not <value!r>" and subclasses ``ValueError`` so the
command line turns it into one line on stderr and exit code 2.
"""
from __future__ import annotations

__all__ = ["ModelConfigError", "RecipeError", "MappingError", "CheckpointError"]


class ModelConfigError(ValueError):
    """A model name or config.json is unknown, malformed or missing a field."""


class RecipeError(ValueError):
    """A recipe shorthand or recipe TOML is invalid; the message names the field."""


class MappingError(ValueError):
    """A workload cannot be mapped onto the hardware (e.g. an SRAM buffer too small)."""


class CheckpointError(ValueError):
    """A Hugging Face model folder is incomplete or inconsistent (missing config, weights or
    tensor, a mis-shaped tensor, a tokenizer larger than the vocabulary); the message names it."""
