"""Verilog export of an Amaranth component, with a JSON metadata file beside it.

The metadata (ports, widths, unit parameters, timing, a SHA-256 of the Verilog text) is what
cocotb benches read instead of hard-coding design parameters, and what the cost cache keys on.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from ..errors import UnitConfigError
from ._atomic import atomic_write_text

__all__ = ["ExportResult", "export_verilog", "port_table"]


@dataclass(frozen=True)
class ExportResult:
    """Where an export went: the Verilog file, the metadata file, and the Verilog's SHA-256."""

    verilog_path: Path
    metadata_path: Path
    verilog_sha256: str
    metadata: dict


def port_table(component: wiring.Component) -> list[dict[str, Any]]:
    """Ports of ``component`` as Verilog sees them: name (``a__b`` for nested members),
    direction ("in"/"out"), width in bits and signedness, in signature order."""
    rows: list[dict[str, Any]] = []
    for path, member in component.signature.members.flatten():
        if not member.is_port:
            continue
        shape = Shape.cast(member.shape)
        rows.append({
            "name": "__".join(str(p) for p in path),
            "direction": "in" if member.flow == wiring.In else "out",
            "width": shape.width,
            "signed": shape.signed,
        })
    return rows


def export_verilog(component: wiring.Component, *, name: str, out_dir: str | os.PathLike,
                   metadata: Mapping[str, Any] | None = None) -> ExportResult:
    """Convert ``component`` to Verilog as module ``name`` and write ``<name>.v`` and
    ``<name>.json`` into ``out_dir`` (atomically).

    Parameters
    ----------
    component : the Amaranth ``wiring.Component`` to export.
    name : the top module name; must be a Verilog identifier.
    out_dir : output folder, created if missing; must not be an existing file.
    metadata : unit parameters (formats, latency, initiation interval, ...) stored in the JSON.

    Raises
    ------
    UnitConfigError
        If ``name`` is not a Verilog identifier or ``out_dir`` is a file.
    """
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        component._MustUse__silence = True  # rejected before use: not an unused-design bug
        raise UnitConfigError(f"module name must be a Verilog identifier, not {name!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        component._MustUse__silence = True
        raise UnitConfigError(f"output folder must be a folder, not the file {str(out)!r}")
    text = verilog.convert(component, name=name, emit_src=False)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    meta = {"top": name, "verilog": f"{name}.v", "verilog_sha256": sha,
            "ports": port_table(component), **dict(metadata or {})}
    vpath = atomic_write_text(out / f"{name}.v", text)
    mpath = atomic_write_text(out / f"{name}.json", json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return ExportResult(vpath, mpath, sha, meta)
