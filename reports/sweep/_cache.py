"""Content-addressed, crash-safe cache of design-point results: the one cache of ``hw``
(``hw.cost.CostCache``, one hasher, one entry format, invalid entries recomputed and logged),
under the folder ``sweep`` and the entry kind ``points``.

A point's key is the SHA-256 (``hash_key``) of the canonical JSON of: its descriptor (model,
recipe quantizers, full hardware configuration), the metrics asked for, the hashes of the RTL it
generates (where a metric source generates RTL) and the versions of every tool and metric source
used (package versions and a hash of the source code of the modules that compute the metrics).

An entry is one JSON file ``<root>/points/<key[:2]>/<key>.json``; a read that finds a non-UTF-8,
malformed or truncated entry, the wrong key or a bad checksum treats it as absent (recomputed and
overwritten). Writes are atomic (temp file + rename), so a sweep killed at any moment leaves each
entry either complete or absent.

The root is ``$LOWBIT_CACHE_DIR/sweep`` if that variable is set, else ``~/.cache/lowbit/sweep``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hw.cost import CostCache, canonical_json, hash_key
from hw.cost import default_cache_dir as _hw_cache_dir

from ..errors import SpecError

__all__ = ["ResultCache", "canonical_json", "default_cache_dir", "hash_key"]

KIND = "points"


def default_cache_dir() -> Path:
    """``$LOWBIT_CACHE_DIR/sweep`` if the variable is set and non-empty, else ``~/.cache/lowbit/sweep``."""
    return _hw_cache_dir() / "sweep"


class ResultCache:
    """A cache folder of point results (see the module docstring).

    Parameters
    ----------
    root : cache folder; :func:`default_cache_dir` when ``None``.

    Raises
    ------
    SpecError
        If ``root`` exists and is not a folder.
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        if self.root.exists() and not self.root.is_dir():
            raise SpecError(f"cache folder must be a folder, not the file {str(self.root)!r}")
        self._store = CostCache(self.root)

    def __repr__(self) -> str:
        return f"ResultCache({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """File of entry ``key``."""
        return self._store.path(KIND, key)

    def get(self, key: str) -> dict | None:
        """The payload stored under ``key``, or ``None`` if absent or invalid."""
        return self._store.get(KIND, key)

    def put(self, key: str, payload: Any) -> Path:
        """Store ``payload`` (JSON-serialisable; NaN and inf allowed) under ``key`` atomically."""
        return self._store.put(KIND, key, payload)
