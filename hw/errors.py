"""Exceptions raised by the ``hw`` package.

Every user-facing mistake (a malformed format name, a code out of range, a unit parameter a
unit cannot take) raises one of these, worded "<what> must be <rule>, not <value!r>". They
subclass ``ValueError`` / ``TypeError`` so callers can catch them the usual way; the command
line turns them into one line on stderr and exit code 2.
"""
from __future__ import annotations

__all__ = ["FormatError", "NumericsError", "UnitConfigError", "ToolError", "ToolTimeout"]


class FormatError(ValueError):
    """A format name or descriptor field is invalid."""


class NumericsError(ValueError):
    """Invalid input to the golden arithmetic (codes out of range, non-finite under "raise")."""


class UnitConfigError(ValueError):
    """A hardware unit or array was given parameters it cannot take."""


class ToolError(RuntimeError):
    """An external tool (yosys, nextpnr, Verilator) failed; the message names the tool and step."""


class ToolTimeout(ToolError):
    """An external tool ran past its time limit (it may finish with a longer limit or on a
    faster machine, unlike a tool that exits with an error on the same input)."""


class FormatTypeError(FormatError, TypeError):
    """A format field or name of the wrong kind (a ``TypeError``; also a ``FormatError`` so
    callers that catch the value error keep working)."""


class NumericsTypeError(NumericsError, TypeError):
    """Input of the wrong kind to the golden arithmetic (strings or complex values, a seed that
    is not an int or Generator); also a ``NumericsError``."""


class UnitConfigTypeError(UnitConfigError, TypeError):
    """A unit parameter of the wrong kind (a ``TypeError``; also a ``UnitConfigError``)."""


__all__ += ["FormatTypeError", "NumericsTypeError", "UnitConfigTypeError"]
