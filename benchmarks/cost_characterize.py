"""Time to characterise one 8-bit MAC unit (int8 x int8, exact accumulator, from
``hw.units.build_mac``) with ``hw.cost.characterize``: cold (empty cache: ASIC synthesis,
gate-level Verilator build + simulation, ECP5 with/without DSPs and iCE40 place-and-route) and
warm (cache hit; the unit carries a ``design_key`` so the hit needs no elaboration; the
content-keyed lookup that elaborates the design is timed too). Goals (issue 6): <= 60 s cold, <= 0.1 s warm. Prints the figures.

The calibration anchor is measured first into the same fresh cache and timed separately. The
YoWASP WebAssembly compile cache (~/.cache/YoWASP) is not cleared: its one-time ~30 s per tool
is not a characterisation cost.

Usage: python benchmarks/cost_characterize.py [--cycles N] [--fpga ecp5,ecp5-nodsp,ice40]
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time

from hw.cost import CostCache, UnitSpec, calibrate, characterize, unit_ops_per_cycle, unit_stimulus
from hw.units import build_mac


def _unit() -> UnitSpec:
    params = {"a": "int8", "b": "int8", "acc": "exact"}
    u = build_mac(**params)
    meta = {**u.metadata, "ops_per_cycle": unit_ops_per_cycle(u.metadata),
            "design_key": f"hw.units.build_mac{sorted(params.items())}"}
    return UnitSpec(u.component, u.name, meta)


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (yosys, nextpnr, Verilator, g++)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--fpga", default="ecp5,ecp5-nodsp,ice40")
    args = parser.parse_args()
    fams = tuple(f for f in args.fpga.split(",") if f and f != "none")
    with tempfile.TemporaryDirectory(prefix="lowbit_bench_cache_") as tmp:
        cache = CostCache(tmp)
        t0 = time.perf_counter()
        cal = calibrate(cache=cache)
        t_cal = time.perf_counter() - t0
        spec = _unit()
        stim = unit_stimulus(spec.metadata, cycles=args.cycles, seed=0)
        t0, c0 = time.perf_counter(), _cpu_s()
        cold = characterize(spec, stimulus=stim, fpga=fams, cache=cache, calibration=cal)
        t_cold, c_cold = time.perf_counter() - t0, _cpu_s() - c0
        warm_times = []
        for _ in range(5):
            spec = _unit()  # a fresh component each time, as a new process would build it
            t0 = time.perf_counter()
            warm = characterize(spec, stimulus=stim, fpga=fams, cache=CostCache(tmp), calibration=cal)
            warm_times.append(time.perf_counter() - t0)
        assert warm == cold
        content_times = []
        for _ in range(3):
            spec = _unit()
            spec = UnitSpec(spec.component, spec.name,
                            {k: v for k, v in spec.metadata.items() if k != "design_key"})
            t0 = time.perf_counter()
            again = characterize(spec, stimulus=stim, fpga=fams, cache=CostCache(tmp), calibration=cal)
            content_times.append(time.perf_counter() - t0)
        assert again.area_um2 == cold.area_um2
    print(f"unit: {cold.name} ({args.cycles} stimulus cycles, FPGA: {', '.join(fams) or 'none'})")
    print(f"calibration anchor (8x8 multiplier), cold: {t_cal:.1f} s")
    print(f"characterize cold: {t_cold:.1f} s wall, {c_cold:.1f} s CPU (all processes)   (goal <= 60 s)")
    print(f"characterize warm: best {min(warm_times) * 1000:.1f} ms, worst {max(warm_times) * 1000:.1f} ms"
          f"   (goal <= 100 ms)")
    print(f"characterize warm, content key (elaborates to hash the RTLIL): best "
          f"{min(content_times) * 1000:.1f} ms")
    print(f"area {cold.area_um2:.0f} um2 ({cold.gates_nand2:.0f} NAND2-eq, {cold.flip_flops} FFs), "
          f"logic depth {cold.logic_depth}, energy {cold.energy_pj_per_op:.3f} pJ/MAC")
    for fam, c in cold.fpga.items():
        print(f"  {fam}: fits={c.fits} LUT4={c.luts} FF={c.ffs} DSP={c.dsps} carry={c.carry} "
              f"Fmax={'n/a' if c.fmax_mhz is None else f'{c.fmax_mhz:.0f} MHz'} {c.note}")


if __name__ == "__main__":
    main()
