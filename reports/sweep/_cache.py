"""Content-addressed, crash-safe cache of design-point results.

A point's key is the SHA-256 of the canonical JSON of: its descriptor (model, recipe quantizers,
full hardware configuration), the metrics asked for, the hashes of the RTL it generates (where a
metric source generates RTL) and the versions of every tool and metric source used (package
versions and a hash of the source code of the modules that compute the metrics).

An entry is one JSON file ``<root>/points/<key[:2]>/<key>.json`` holding ``{"key", "payload",
"sha256"}``; ``sha256`` is the hash of the canonical JSON of the payload. A read that finds a
malformed entry, the wrong key or a bad checksum treats it as absent (recomputed and
overwritten). Writes are atomic (``hw.flow.atomic_write_text``: temp file + rename), so a sweep
killed at any moment leaves each entry either complete or absent.

The root is ``$LOWBIT_CACHE_DIR/sweep`` if that variable is set, else ``~/.cache/lowbit/sweep``.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from hw.flow import atomic_write_text

from ..errors import SpecError

__all__ = ["ResultCache", "canonical_json", "default_cache_dir", "hash_key"]


def default_cache_dir() -> Path:
    """``$LOWBIT_CACHE_DIR/sweep`` if the variable is set and non-empty, else ``~/.cache/lowbit/sweep``."""
    env = os.environ.get("LOWBIT_CACHE_DIR")
    return (Path(env) if env else Path.home() / ".cache" / "lowbit") / "sweep"


def canonical_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, no spaces; NaN and infinities as Python's json spells them,
    ``NaN`` / ``Infinity``, which ``json.loads`` reads back)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def hash_key(*parts: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``parts``."""
    return hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).hexdigest()


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

    def __repr__(self) -> str:
        return f"ResultCache({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """File of entry ``key``."""
        return self.root / "points" / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The payload stored under ``key``, or ``None`` if absent or invalid."""
        try:
            text = self.path(key).read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            entry = json.loads(text)
            payload = entry["payload"]
            ok = (entry.get("key") == key
                  and entry.get("sha256") == hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest())
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return payload if ok else None

    def put(self, key: str, payload: dict) -> Path:
        """Store ``payload`` (JSON-serialisable; NaN and inf allowed) under ``key`` atomically."""
        body = canonical_json(payload)
        entry = {"key": key, "payload": json.loads(body),
                 "sha256": hashlib.sha256(body.encode("utf-8")).hexdigest()}
        return atomic_write_text(self.path(key), json.dumps(entry, sort_keys=True) + "\n")
