"""Verilator default-lint warnings of the exported Verilog: Amaranth's own ``verilog.convert``
output against the export flow's (``hw.flow.clean_verilog``), per unit, by warning kind.

Run: ``python benchmarks/verilog_lint.py``. Prints one row per design: total warnings and the
kinds, before (Amaranth's backend) and after (what ``lowbit verilog`` ships).
"""
from __future__ import annotations

import collections
import re
import tempfile
import time
from pathlib import Path

from amaranth.back import verilog

from hw.arrays import build_array
from hw.flow import clean_verilog, lint_verilog
from hw.units import build_unit

DESIGNS = {
    "mac e4m3fn x e4m3fn exact": lambda: build_unit("mac", a="e4m3fn", b="e4m3fn"),
    "mac int8 x int8 -> int32": lambda: build_unit("mac", a="int8", b="int8", out="int32"),
    "dot8 int4 x e4m3fn fp32 acc": lambda: build_unit("dot", a="int4", b="e4m3fn", acc="float32", lanes=8),
    "mxdot mxfp4 x mxfp8_e4m3": lambda: build_unit("mxdot", a="mxfp4", b="mxfp8_e4m3"),
    "requant int32 -> int8": lambda: build_unit("requant"),
    "quantize fp32 -> e4m3fn": lambda: build_unit("quantize", dst="e4m3fn"),
    "ivit_shiftmax L16": lambda: build_unit("ivit_shiftmax", x_bits=8, length=16, x0_int=-20),
    "array ws 4x4 int8": lambda: build_array(rows=4, cols=4, dataflow="ws", a_format="int8"),
    "array os 4x4 e4m3fn": lambda: build_array(rows=4, cols=4, dataflow="os", a_format="e4m3fn"),
}


def _count(text: str, folder: Path, name: str) -> collections.Counter:
    path = folder / f"{name}.v"
    path.write_text(text)
    return collections.Counter(m.group(1) for ln in lint_verilog(path)
                               if (m := re.match(r"%Warning-(\w+)", ln)))


def main() -> None:
    print(f"{'design':32s} {'before':>6s} {'after':>5s} {'export s':>8s}  kinds before")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, build in DESIGNS.items():
            before = _count(verilog.convert(build().component, name="top", emit_src=False), folder, "before")
            t0 = time.perf_counter()
            text = clean_verilog(build().component, name="top").text
            dt = time.perf_counter() - t0
            after = _count(text, folder, "after")
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(before.items()))
            print(f"{label:32s} {sum(before.values()):6d} {sum(after.values()):5d} {dt:8.1f}  {kinds}")


if __name__ == "__main__":
    main()
