"""Exceptions raised by the ``sim`` package (hardware configs, simulation requests).

Worded "<what> must be <rule>, not <value!r>"; subclasses of ``ValueError`` so the command line
turns them into one line on stderr and exit code 2.
"""
from __future__ import annotations

__all__ = ["HardwareConfigError", "SimulationError"]


class HardwareConfigError(ValueError):
    """A hardware preset name or hardware TOML field is invalid; the message names the field."""


class SimulationError(ValueError):
    """A simulation request is invalid (bad phase lengths, layers, weights file, ...)."""
