"""The one content-addressed, crash-safe cache of lowbit: cost measurements (``hw.cost``) and
sweep results (``reports.sweep.ResultCache`` stores its points here, kind ``points``), with one
hasher (:func:`hash_key` over :func:`canonical_json`).

An entry is one JSON file ``<root>/<kind>/<key[:2]>/<key>.json`` holding ``{"key", "kind",
"payload", "sha256"}`` where ``sha256`` is the hash of the canonical JSON of the payload. Reads
validate the encoding (UTF-8), the JSON, the key and the checksum; an entry that fails any check
(non-UTF-8, truncated, edited) is treated as absent, so it is recomputed and overwritten, never
trusted, and a warning on the ``hw.cost`` logger names the file and the reason. Writes are atomic (temp file + rename,
``hw.flow.atomic_write_text``): a run killed at any moment leaves either the old entry, the new
one, or none.

The root is ``$LOWBIT_CACHE_DIR`` if set, else ``~/.cache/lowbit``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import UnitConfigError
from ..flow import atomic_write_text

__all__ = ["CostCache", "canonical_json", "default_cache_dir", "hash_key"]

_log = logging.getLogger("hw.cost")


def default_cache_dir() -> Path:
    """``$LOWBIT_CACHE_DIR`` if set and non-empty, else ``~/.cache/lowbit``."""
    env = os.environ.get("LOWBIT_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "lowbit"


def canonical_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces; NaN and infinities as Python's json spells them
    (``NaN``, ``Infinity``), which ``json.loads`` reads back."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


_canonical = canonical_json


def hash_key(*parts: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``parts``."""
    return hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).hexdigest()


class CostCache:
    """A cache folder (see the module docstring).

    Parameters
    ----------
    root : cache folder; :func:`default_cache_dir` when ``None``.

    Attributes
    ----------
    hits, misses, corrupt : counters of this instance's reads (``corrupt`` counts entries found
        but rejected).
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise UnitConfigError(f"cache root must be a path, not {type(root).__name__}")
        self.root = Path(root) if root is not None else default_cache_dir()
        if self.root.exists() and not self.root.is_dir():
            raise UnitConfigError(f"cache root must be a folder, not the file {str(self.root)!r}")
        self.hits = 0
        self.misses = 0
        self.corrupt = 0

    def __repr__(self) -> str:
        return f"CostCache({str(self.root)!r})"

    def path(self, kind: str, key: str) -> Path:
        """File of entry ``key`` of ``kind``."""
        return self.root / kind / key[:2] / f"{key}.json"

    def get(self, kind: str, key: str) -> Any | None:
        """The payload stored under ``key``, or ``None`` if absent or invalid (an invalid entry
        is logged as a warning naming its file)."""
        path = self.path(kind, key)
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            self.misses += 1
            return None
        reason = ""
        try:
            entry = json.loads(raw.decode("utf-8"))
            if not isinstance(entry, dict) or entry.get("key") != key or entry.get("kind", kind) != kind:
                reason = "it holds another entry"
            elif entry.get("sha256") != hashlib.sha256(_canonical(entry["payload"]).encode("utf-8")).hexdigest():
                reason = "its checksum does not match"
        except UnicodeDecodeError:
            reason = "it is not UTF-8"
        except (ValueError, KeyError, TypeError):
            reason = "it is not a complete JSON entry (truncated?)"
        if reason:
            _log.warning("cache entry %s is invalid (%s); recomputing it", path, reason)
            self.corrupt += 1
            self.misses += 1
            return None
        self.hits += 1
        return entry["payload"]

    def put(self, kind: str, key: str, payload: Any) -> Path:
        """Store ``payload`` (JSON-serialisable) under ``key`` atomically; returns the file."""
        body = _canonical(payload)
        entry = {"key": key, "kind": kind, "payload": json.loads(body),
                 "sha256": hashlib.sha256(body.encode("utf-8")).hexdigest()}
        return atomic_write_text(self.path(kind, key), json.dumps(entry, sort_keys=True) + "\n")
