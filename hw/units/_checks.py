"""Construction helpers shared by the units: ``validated_init`` (a component whose parameters
are rejected is never elaborated, so Amaranth's unused-elaboratable warning is silenced for it)
and, re-exported from ``hw.formats``, the one integer-parameter checker ``check_int`` and the
rounding-mode checker ``check_rounding`` (pass ``error=UnitConfigError``)."""
from __future__ import annotations

import functools

from ..formats._base import check_int, check_rounding

__all__ = ["check_int", "check_rounding", "validated_init"]


def validated_init(init):
    """Decorate a component ``__init__``: if it raises (a rejected parameter), mark the
    half-built object as deliberately unused before re-raising."""
    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        try:
            init(self, *args, **kwargs)
        except Exception:
            self._MustUse__silence = True
            raise
    return wrapper
