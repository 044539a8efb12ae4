"""Wall time of the realistic example sweep (``examples/sweep_realistic.toml``) with 1 and 2
Dask workers on a cold result cache, and of a warm re-run (every point cached) through the
``lowbit sweep`` command line, process start-up included (goal: under 5 s).

The MAC characterisations (``hw.cost``) live in hw.cost's own cache; they are primed first and
timed separately, so the 1- and 2-worker runs measure the same work (simulation, numerics mode,
cached unit look-ups).

    python benchmarks/sweep_realistic.py [--spec FILE] [--workers 1 2] [--out DIR]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(ROOT / "examples" / "sweep_realistic.toml"))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", default=None, help="keep the results here (default: a temporary folder)")
    args = ap.parse_args()

    from reports.sweep import load_spec, run_sweep
    from reports.sweep._sources import UnitCostSource, characterize_mac

    spec = load_spec(args.spec)
    print(f"spec {args.spec}: {len(spec.points)} points, metrics {', '.join(spec.metrics)}")
    if ("area" in spec.metrics or spec.unit_energy) and UnitCostSource().status() is None:
        t0 = time.perf_counter()
        recipes = {p.recipe_obj() for p in spec.points}
        for r in sorted(recipes, key=lambda r: r.name):
            characterize_mac(r, energy=spec.unit_energy, fpga=tuple(spec.fpga))
        print(f"primed hw.cost unit characterisations of {len(recipes)} MAC units: {time.perf_counter() - t0:.1f} s "
              f"(not part of the sweep timings below)")
    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="lowbit-bench-"))
    last_cache = None
    for n in args.workers:
        cache = base / f"cache_w{n}"
        res = run_sweep(spec, base / f"results_w{n}", workers=n, cache=cache, progress=False)
        print(f"cold cache, {n} worker(s): {res.wall_s:.1f} s wall, {res.computed} points computed, "
              f"{res.evaluations_computed} evaluations, {res.failed} failed")
        last_cache = cache
    # other code edited meanwhile changes the keys (that is the point of content addressing):
    # settle the cache on the code as it is now before timing the warm run
    for _ in range(3):
        res = run_sweep(spec, None, workers=max(args.workers), cache=last_cache, progress=False)
        if res.evaluations_computed == 0:
            break
        print(f"(code changed during the runs: {res.evaluations_computed} evaluations recomputed before the warm run)")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "reports.cli", "sweep", args.spec, "-o", str(base / "results_warm"),
                           "--cache", str(last_cache), "--no-progress"], capture_output=True, text=True)
    warm = time.perf_counter() - t0
    if proc.returncode:
        print(proc.stderr, file=sys.stderr)
        return 1
    print(f"warm re-run (lowbit sweep, new process, every point cached): {warm:.2f} s wall "
          f"[{proc.stdout.strip()}] (goal < 5 s)")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "reports.cli", "report", str(base / "results_warm"), "-o",
                           str(base / "report")], capture_output=True, text=True)
    print(f"lowbit report: {time.perf_counter() - t0:.2f} s wall -> {base / 'report' / 'index.html'}"
          + ("" if proc.returncode == 0 else f" FAILED: {proc.stderr.strip()}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
