"""Run a design-space sweep from a TOML spec on Dask distributed, cached and resumable.

Writes ``results.csv``, ``results.parquet`` and ``sweep.json`` to the output folder (see
``reports.sweep``); ``lowbit report`` turns them into an HTML page. Exit code 1 when every
point failed (the results are still written, with each point's error).
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC.toml", help="sweep specification (see examples/sweep_small.toml)")
    parser.add_argument("-o", "--out", default="results", help="output folder (default: results)")
    parser.add_argument("--scheduler", metavar="ADDR", default=None,
                        help="address of an existing Dask scheduler, tcp://HOST:PORT (default: a local cluster)")
    parser.add_argument("--workers", type=int, default=None,
                        help="workers of the local cluster (default: the machine's cores)")
    parser.add_argument("--cache", default=None,
                        help="result cache folder (default: $LOWBIT_CACHE_DIR/sweep or ~/.cache/lowbit/sweep)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import os

    from reports.sweep import load_spec
    from reports.sweep._run import check_sweep_output_dir, run_sweep

    check_sweep_output_dir(args.out)
    spec = load_spec(args.spec)
    workers = args.workers
    if workers is None and args.scheduler is None:
        workers = os.cpu_count() or 1
    result = run_sweep(spec, args.out, scheduler=args.scheduler, workers=workers, cache=args.cache,
                       progress=not args.no_progress)
    for metric, reason in result.unavailable.items():
        print(f"note: metric {metric} not available ({reason}); its columns are left out", file=sys.stderr)
    print(f"sweep {spec.name}: {len(spec.points)} points, {result.computed} computed, {result.cached} cached, "
          f"{result.failed} failed in {result.wall_s:.2f} s -> {args.out}")
    if result.failed and result.failed == len(spec.points):
        first = next(e for e in result.frame["error"] if e)
        print(f"lowbit: error: every point of the sweep failed; the first: {first}", file=sys.stderr)
        return 1
    return 0
