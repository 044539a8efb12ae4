"""Checks every exported module must pass (shared by the export tests): its JSON follows the
shipped schema (validated with ``jsonschema``), its Verilog is clean under Verilator's default
lint and yosys ``check -assert``, its files are mode 0644, and its generated bench runs
standalone (``python NAME_tb.py`` in the export folder, in a fresh process)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

import jsonschema

from hw.flow import ExportResult, export_verilog, lint_verilog, module_name, run_yosys

__all__ = ["export_checked", "run_bench", "schema"]


def schema() -> dict:
    """The schema file as shipped in the installed ``hw.flow`` package."""
    return json.loads(resources.files("hw.flow").joinpath("export.schema.json").read_text())


def export_checked(unit, out_dir: Path, **kw) -> ExportResult:
    """Export ``unit`` (a built unit or array) with its bench and check the export's files."""
    name = module_name(unit.name)
    res = export_verilog(unit.component, name=name, out_dir=out_dir, metadata=unit.metadata,
                         testbench=True, **kw)
    meta = json.loads(res.metadata_path.read_text())
    jsonschema.Draft202012Validator(schema()).validate(meta)
    assert meta == res.metadata
    assert lint_verilog(res.verilog_path) == []
    with tempfile.TemporaryDirectory() as tmp:
        log = run_yosys(f"read_verilog -sv design.v\nhierarchy -check -top {name}\nproc\ncheck -assert\n",
                        workdir=tmp, step="check", files={"design.v": res.verilog_path.read_text()})
    assert "Found and reported 0 problems" in log
    names = set(meta["files"].values())
    assert {p.name for p in out_dir.iterdir() if p.is_file()} >= names
    for n in names:
        assert (out_dir / n).stat().st_mode & 0o777 == 0o644, n
    for n in (meta["files"]["testbench"], meta["files"]["testbench_library"]):
        text = (out_dir / n).read_text()
        assert "import hw" not in text and "from hw" not in text, f"{n} must not need lowbit"
    return res


def run_bench(res: ExportResult) -> subprocess.CompletedProcess:
    """``python NAME_tb.py`` in the export folder, as the engineer runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MAKEFLAGS")}
    return subprocess.run([sys.executable, res.testbench_path.name], cwd=res.testbench_path.parent,
                          capture_output=True, text=True, env=env, timeout=3600)
