"""Exceptions raised by the ``reports`` package (sweep specs, report inputs)."""
from __future__ import annotations

__all__ = ["SpecError"]


class SpecError(ValueError):
    """A sweep specification or report input is invalid; the message names the field."""
