"""Time the standard-cell characterisation of one unit (issue 13's speed goals: an 8-bit MAC cold
<= 60 s, warm <= 0.1 s; the 32-element MX block-dot units and 32-lane units cold <= 5 min each,
energy included): liberty mapping at a clock target, gate-level activity of 500 cycles, OpenSTA
timing and power, line items.

Cold = an empty cost cache (the WebAssembly yosys's own compile cache, ``YOWASP_CACHE_DIR``, is
warm after the first use on a machine; the first ever run adds ~30-70 s once); warm = the same
call again with a new unit object (cache hit by the factory's design key, no elaboration); the
unit and its stimulus are built before the clock starts.
Printed per unit: wall-clock and CPU seconds (this process and its finished children: yosys,
OpenSTA), and the wall-clock seconds of each phase (RTLIL conversion, Verilog export, mapping,
gate-level activity, STA + power). The machine is shared: CPU seconds are the steadier figure.

``--meet-clock MHZ`` times ``hw.cost.meet_clock`` instead (the pipeline depth chosen for a clock
target at ``--node``, as ``lowbit simulate`` and ``lowbit cost --hw`` do: every depth tried is
mapped and timed, the chosen one also simulated and powered).

``--vector-units HW`` times the vector (row) units of a hardware config or preset instead, as
the simulator and ``lowbit cost --hw`` characterise them (``sim.hardware_vector_units``: the
hardware's ``nonlinear_x_bits``, rows of 64; ``hw.cost.vector_unit_energy`` at the hardware's
clock at ``--node``, buffered), each cold and warm, next to the flow before issue 13's change
(the same Verilog area-mapped, no clock target, no buffering): Fmax and energy per unit cycle
at the node (derived), and the clock cycles per unit cycle ``hw.cost.vector_unit_clock`` charges.
With ``--depths``, instead: every depth of each row unit's pipeline parameter (0 up to
``hw.cost.MAX_ROW_PIPELINE``) mapped for the hardware's clock and characterised with
the same stimulus (default cost cache, so figures already measured are reused): Fmax at the node,
energy per unit cycle, area, cycles per row of 64 (its timing function), clock cycles per unit
cycle at that depth, and the depth the clock rule (``hw.cost.vector_unit_energy``) chooses.

Usage: python benchmarks/cost_liberty.py [--formats int8,e4m3fn,mxfp8_e4m3] [--acc exact|float32]
       [--lanes 1] [--clock-mhz 100] [--meet-clock 1000 --node 45 --timed per_product]
       [--merge-identical] [--vector-units edge-16x16 [--node 45] [--depths]]
"""
from __future__ import annotations

import argparse
import collections
import functools
import resource
import statistics
import tempfile
import time


def _cpu_s() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _instrument(phases: dict[str, float]) -> None:
    """Wrap the flow's phases where ``hw.cost`` calls them, adding their wall-clock time to
    ``phases`` (benchmark instrumentation only)."""
    import hw.cost._asic as asic
    import hw.cost._characterize as charz

    def timed(name, fn):
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                phases[name] += time.perf_counter() - t0
        return wrapper

    asic.synthesize_liberty = timed("mapping (yosys + ABC)", asic.synthesize_liberty)
    asic.netlist_activity = timed("gate-level activity", asic.netlist_activity)
    asic.static_timing = timed("STA + power (OpenSTA)", asic.static_timing)
    charz.clean_verilog = timed("Verilog export (yosys)", charz.clean_verilog)
    charz.rtlil = type("rtlil", (), {"convert": staticmethod(timed("RTLIL conversion", charz.rtlil.convert))})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default="int8")
    parser.add_argument("--acc", default="exact", help="accumulator of MAC/dot units: exact or float32")
    parser.add_argument("--clock-mhz", type=float, default=100.0, help="clock target at 180 nm (MHz)")
    parser.add_argument("--meet-clock", type=float, default=None,
                        help="time hw.cost.meet_clock for this clock at --node (MHz) instead")
    parser.add_argument("--node", type=int, default=45)
    parser.add_argument("--timed", default="per_product", help="meet_clock's timed scope: unit or per_product")
    parser.add_argument("--warm-repeats", type=int, default=5)
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--lanes", type=int, default=1, help="products per cycle of the MAC/dot units")
    parser.add_argument("--merge-identical", action="store_true",
                        help="map identical submodules once (hw.flow.synthesize_liberty's option, off in the flow)")
    parser.add_argument("--vector-units", default=None, metavar="HW",
                        help="time the vector units of this hardware config or preset instead (see above)")
    parser.add_argument("--depths", action="store_true",
                        help="with --vector-units: Fmax and energy of every pipeline depth of each row unit")
    args = parser.parse_args()
    if args.vector_units is not None:
        (_vector_unit_depths if args.depths else _vector_units)(args)
        return
    if args.merge_identical:
        import hw.cost._asic as asic

        asic.synthesize_liberty = functools.partial(asic.synthesize_liberty, merge_identical=True)
    from hw.cost import CostCache, characterize_asic, meet_clock, node_scaling, unit_stimulus
    from hw.formats import BlockFormat, parse
    from hw.units import build_mac, build_mxdot

    phases: dict[str, float] = collections.defaultdict(float)
    _instrument(phases)

    def build(fmt: str, pipeline: int = 0):
        if isinstance(parse(fmt), BlockFormat):
            unit = build_mxdot(a=fmt, b=fmt, pipeline=pipeline)
        else:
            unit = build_mac(a=fmt, b=fmt, acc=args.acc, lanes=args.lanes, pipeline=pipeline)
        unit.metadata["design_key"] = f"hw.units factory: {unit.name}"
        return unit

    def stimulus(unit):
        return unit_stimulus(unit.metadata, cycles=args.cycles, seed=0)

    def one(fmt: str, cache: CostCache):
        if args.meet_clock is None:  # the unit and its stimulus are made before the clock starts
            unit = build(fmt)
            stim = stimulus(unit)
            t0, c0 = time.perf_counter(), _cpu_s()
            rec = characterize_asic(unit, clock_mhz=args.clock_mhz, stimulus=stim, cache=cache)
        else:  # meet_clock builds every depth it tries and draws the chosen one's stimulus
            t0, c0 = time.perf_counter(), _cpu_s()
            depths = (0, 1) if isinstance(parse(fmt), BlockFormat) else (0, 1, 2)
            lib_clock = args.meet_clock * node_scaling(source_nm=180, target_nm=args.node).delay
            rec = meet_clock(lambda p: build(fmt, p), clock_mhz=lib_clock, pipelines=depths, target_nm=args.node,
                             stimulus=stimulus, cache=cache, timed=args.timed)
        return rec, time.perf_counter() - t0, _cpu_s() - c0

    for fmt in args.formats.split(","):
        phases.clear()
        with tempfile.TemporaryDirectory(prefix="lowbit_bench_") as tmp:
            rec, cold, cold_cpu = one(fmt, CostCache(tmp))
            cold_phases = dict(phases)
            warm = [one(fmt, CostCache(tmp))[1] for _ in range(args.warm_repeats)]
        what = (f"at {rec.clock_mhz:g} MHz on {rec.library}" if args.meet_clock is None else
                f"meet_clock({args.meet_clock:g} MHz at {args.node} nm, timed={args.timed}): pipeline {rec.pipeline}")
        print(f"{rec.name} ({rec.ops_per_cycle} products/cycle, {args.cycles} cycles): "
              f"cold {cold:.1f} s wall, {cold_cpu:.1f} s CPU; warm {statistics.median(warm) * 1e3:.1f} ms "
              f"(median of {len(warm)}); {rec.area_um2:.0f} um2, {sum(i.cells for i in rec.line_items.values())} "
              f"cells, Fmax {rec.fmax_mhz:.1f} MHz, {rec.energy_pj_per_op:.3g} pJ/product {what}")
        print("  cold phases (wall s): " + ", ".join(f"{k} {v:.1f}" for k, v in cold_phases.items()))


def _vector_units(args: argparse.Namespace) -> None:
    from hw.cost import CostCache, characterize_asic, vector_unit_clock, vector_unit_energy
    from hw.cost._accelerator import row_unit_stimulus
    from sim import hardware_vector_units, load_hardware

    hw = load_hardware(args.vector_units)
    print(f"{hw.name}: vector units at {hw.clock_mhz:g} MHz, {args.node} nm (derived from osu018), x_bits "
          f"{hw.nonlinear_x_bits}, rows of 64, {args.cycles} stimulus cycles")
    for fn, kind, label, unit in hardware_vector_units(hw):
        if unit is None:
            print(f"  {fn} ({kind}): no example constants, not characterised")
            continue
        with tempfile.TemporaryDirectory(prefix="lowbit_bench_") as tmp:
            t0, c0 = time.perf_counter(), _cpu_s()
            ve = vector_unit_energy(unit, label=label, node_nm=args.node, cache=CostCache(tmp), cycles=args.cycles,
                                    clock_mhz=hw.clock_mhz)
            cold, cold_cpu = time.perf_counter() - t0, _cpu_s() - c0
            warm = []
            for _ in range(args.warm_repeats):
                rebuilt = [u for f, _, _, u in hardware_vector_units(hw, functions=(fn,))][0]
                t0 = time.perf_counter()
                vector_unit_energy(rebuilt, label=label, node_nm=args.node, cache=CostCache(tmp), cycles=args.cycles,
                                   clock_mhz=hw.clock_mhz)
                warm.append(time.perf_counter() - t0)
            rebuilt = [u for f, _, _, u in hardware_vector_units(hw, functions=(fn,))][0]
            t0 = time.perf_counter()  # before: the same Verilog area-mapped, unbuffered (no clock target)
            old = characterize_asic(rebuilt, target_nm=args.node, cache=CostCache(tmp), name=ve.record.name,
                                    stimulus=row_unit_stimulus(rebuilt, cycles=args.cycles))
            old_s = time.perf_counter() - t0
        old_pj = sum(i.energy_pj_per_cycle for i in old.line_items.values()) * old.derived["scaling"]["energy"]
        c = vector_unit_clock(ve, clock_mhz=hw.clock_mhz)
        print(f"  {fn} ({kind}, {ve.record.name}): area-mapped unbuffered: Fmax {old.derived['fmax_mhz']:.4g} MHz, "
              f"{old_pj:.4g} pJ/cycle, {old.derived['area_um2']:.0f} um2 ({old_s:.1f} s); mapped for the clock, "
              f"buffered: Fmax {c.fmax_mhz:.4g} MHz, {ve.pj_per_cycle:.4g} pJ/unit cycle, "
              f"{ve.record.derived['area_um2']:.0f} um2, {c.cycles_per_unit_cycle} clock cycle(s) per unit cycle; "
              f"cold {cold:.1f} s wall, {cold_cpu:.1f} s CPU, warm {statistics.median(warm) * 1e3:.1f} ms")


def _vector_unit_depths(args: argparse.Namespace) -> None:
    import math

    from hw.cost import CostCache, vector_unit_clock, vector_unit_energy
    from hw.cost._accelerator import MAX_ROW_PIPELINE, _row_variant
    from sim import hardware_vector_units, load_hardware

    hw = load_hardware(args.vector_units)
    cache = CostCache(None)
    print(f"{hw.name}: row units at every pipeline depth, mapped for {hw.clock_mhz:g} MHz at {args.node} nm (derived "
          f"from osu018), x_bits {hw.nonlinear_x_bits}, rows of 64, {args.cycles} stimulus cycles (default cost cache)")
    for fn, kind, label, unit in hardware_vector_units(hw):
        if unit is None:
            print(f"  {fn} ({kind}): no example constants, not characterised")
            continue
        c0 = _cpu_s()
        chosen = vector_unit_energy(unit, label=label, node_nm=args.node, cache=cache, cycles=args.cycles,
                                    clock_mhz=hw.clock_mhz)
        deepest = min(MAX_ROW_PIPELINE, unit.component.max_pipeline)
        c = vector_unit_clock(chosen, clock_mhz=hw.clock_mhz)
        print(f"  {fn} ({kind}): the rule chooses pipeline {chosen.pipeline} of 0..{deepest}, "
              f"{c.cycles_per_unit_cycle} clock cycle(s) per unit cycle ({_cpu_s() - c0:.0f} s CPU)")
        for depth in range(deepest + 1):
            u = unit if depth == 0 else _row_variant(unit, depth)
            # one depth alone (max_pipeline 0: no search), the same flow, stimulus and module name
            ve = vector_unit_energy(u, label=label, node_nm=args.node, cache=cache, cycles=args.cycles,
                                    clock_mhz=hw.clock_mhz, max_pipeline=0)
            fmax = ve.record.derived["fmax_mhz"]
            per_row = u.component.timing().cycles_per_row
            print(f"    pipeline {depth}: Fmax {fmax:.4g} MHz, {ve.pj_per_cycle:.4g} pJ/unit cycle, "
                  f"{ve.record.derived['area_um2']:.0f} um2, {ve.record.flip_flops} flip-flops, {per_row} cycles per "
                  f"row of 64, {1 if fmax >= hw.clock_mhz else math.ceil(hw.clock_mhz / fmax)} clock cycle(s) per "
                  f"unit cycle" + (" <- chosen" if depth == chosen.pipeline else ""))


if __name__ == "__main__":
    main()
