"""Construction helper shared by the units: a component whose parameters are rejected is never
elaborated, so Amaranth's unused-elaboratable warning is silenced for it."""
from __future__ import annotations

import functools

__all__ = ["validated_init"]


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
