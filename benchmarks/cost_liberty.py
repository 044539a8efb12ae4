"""Time the standard-cell characterisation of one 8-bit MAC (issue 13's speed goal: cold
<= 60 s, warm <= 0.1 s): liberty mapping at a clock target, gate-level activity of 500 cycles,
OpenSTA timing and power, line items. Cold = an empty cost cache (the WebAssembly yosys's own
compile cache, ``YOWASP_CACHE_DIR``, is warm after the first use on a machine; the first ever
run adds ~30-70 s once); warm = the same call again in a new process state (cache hit by the
factory's design key, no elaboration).

Also times the bigger units of the issue's size goal (energy included, cold <= 5 min each): a
block format (``mxfp8_e4m3``) builds the MX block-dot unit, ``--lanes 32`` a 32-lane dot unit.

Usage: python benchmarks/cost_liberty.py [--formats int8,e4m3fn,mxfp8_e4m3] [--lanes 1] [--clock-mhz 100]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default="int8")
    parser.add_argument("--clock-mhz", type=float, default=100.0, help="clock target at 180 nm (MHz)")
    parser.add_argument("--warm-repeats", type=int, default=5)
    parser.add_argument("--lanes", type=int, default=1, help="products per cycle of the MAC/dot units")
    args = parser.parse_args()
    from hw.cost import CostCache, characterize_asic, unit_stimulus
    from hw.formats import BlockFormat, parse
    from hw.units import build_mac, build_mxdot

    def one(fmt: str, cache: CostCache):
        if isinstance(parse(fmt), BlockFormat):
            unit = build_mxdot(a=fmt, b=fmt)
        else:
            unit = build_mac(a=fmt, b=fmt, lanes=args.lanes)
        unit.metadata["design_key"] = f"hw.units factory: {unit.name}"
        stim = unit_stimulus(unit.metadata, cycles=500, seed=0)
        t0 = time.perf_counter()
        rec = characterize_asic(unit, clock_mhz=args.clock_mhz, stimulus=stim, cache=cache)
        return rec, time.perf_counter() - t0

    for fmt in args.formats.split(","):
        with tempfile.TemporaryDirectory(prefix="lowbit_bench_") as tmp:
            cache = CostCache(tmp)
            rec, cold = one(fmt, cache)
            warm = [one(fmt, CostCache(tmp))[1] for _ in range(args.warm_repeats)]
        print(f"{rec.name}: cold {cold:.1f} s, warm {statistics.median(warm) * 1e3:.1f} ms (median of "
              f"{len(warm)}); {rec.area_um2:.0f} um2, Fmax {rec.fmax_mhz:.1f} MHz, "
              f"{rec.energy_pj_per_op:.2f} pJ/op at {rec.clock_mhz:g} MHz on {rec.library}")


if __name__ == "__main__":
    main()
