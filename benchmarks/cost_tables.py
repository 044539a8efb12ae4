"""The per-format cost tables of issue 6, produced by ``lowbit cost`` and gathered into one
Markdown file (default ``docs/cost_tables.md``): the Horowitz check, a MAC and a 32-lane dot-product unit, each with
an exact and an FP32 accumulator, W4A8 (INT4 x FP8) included, and the MX / NV block dot-product
units; every unit measured on uniform codes and on Gaussian data, next to the published ratios.

Each table is one ``lowbit cost ... --csv`` run (the commands are written into the file);
results come from the cost cache when present (``--cache``, default ``$LOWBIT_CACHE_DIR`` or
``~/.cache/lowbit``), so a re-run only measures what changed. Runs ``--jobs`` tables at once.
Prints each table and the wall time.

Usage: python benchmarks/cost_tables.py [--tables reference,mx,mac_exact,...] (default: all)
       [--out docs/cost_tables.md] [--jobs 2] [--cache DIR]
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ELEMENT_FORMATS = "int4,int8,e4m3fn,e5m2,e2m3fn,e3m2fn,e2m1fn,bf16,fp16,int4:e4m3fn"
BLOCK_FORMATS = "mxint8,mxfp8_e4m3,mxfp4,nvfp4,nvint4"
#: formats whose 32-lane exact dot-product unit stays small enough for the gate-level energy run
NARROW_FORMATS = "int4,int8,e4m3fn,e2m3fn,e3m2fn,e2m1fn,int4:e4m3fn"
#: the 32-lane FP32-accumulating units priced by default: integers, FP8 and W4A8
DOT32_FP32_FORMATS = "int4,int8,e4m3fn,int4:e4m3fn"
TABLES = {  # table -> (title, lowbit cost arguments); run in this order
    "reference": ("Horowitz ISSCC 2014 operators (45 nm): our predictions and the ratios "
                  "(int8_mul is the calibration anchor)", ["--reference"]),
    "mx": ("Block dot-product units (one block per cycle, result rounded to FP32)",
           [f"--formats={BLOCK_FORMATS}", "--fpga=none"]),
    "mac_exact": ("MAC, exact (Kulisch-style) accumulator", [f"--formats={ELEMENT_FORMATS}", "--acc=exact",
                                                             "--lanes=1", "--fpga=ecp5"]),
    "mac_fp32": ("MAC, FP32 accumulator (and the exact-accumulator INT8 MAC that van Baalen et al. "
                 "compare the FP32-accumulating FP8 MAC with)",
                 [f"--formats={ELEMENT_FORMATS},int8@exact", "--acc=fp32", "--lanes=1", "--fpga=ecp5"]),
    "dot32_exact": ("32-lane dot-product unit, exact accumulator",
                    [f"--formats={NARROW_FORMATS}", "--acc=exact", "--lanes=32", "--fpga=none"]),
    "dot32_exact_wide": ("32-lane dot-product unit, exact accumulator, wide formats: area only (the "
                         "gate-level Verilator build of the fp16 netlist was still compiling after 8 min; bf16 is left out: "
                         "each of its 32 exact products is 523 bits wide)",
                         ["--formats=e5m2,fp16", "--acc=exact", "--lanes=32", "--fpga=none", "--no-energy"]),
    "dot32_fp32": ("32-lane dot-product unit, FP32 accumulator (32 products rounded to FP32, a tree of "
                   "31 FP32 adders): area only, the netlists are larger still (~100 000 NAND2-eq); "
                   "representative formats, each takes ~4 min of yosys",
                   [f"--formats={DOT32_FP32_FORMATS}", "--acc=fp32", "--lanes=32", "--fpga=none", "--no-energy"]),
}
DISTRIBUTIONS = ("uniform", "gaussian")


def _distributions(table: str) -> tuple[str, ...]:
    """The reference operators have one fixed stimulus (``hw.cost.reference_stimulus``); tables
    without energy need no stimulus at all."""
    if table == "reference":
        return ("reference",)
    return ("none",) if "--no-energy" in TABLES[table][1] else DISTRIBUTIONS


def _command(table: str, distribution: str, csv: Path, cache: str | None) -> list[str]:
    dist = [f"--distribution={distribution}"] if distribution in DISTRIBUTIONS else []
    cmd = ["lowbit", "cost", *TABLES[table][1], *dist, "--no-progress", f"--csv={csv}"]
    return cmd + ([f"--cache={cache}"] if cache else [])


def _run(cmd: list[str]) -> tuple[list[str], int, str, float]:
    t0 = time.perf_counter()
    exe = [sys.executable, "-c", "import sys; from reports.cli import main; sys.exit(main())", *cmd[1:]]
    proc = subprocess.run(exe, capture_output=True, text=True)
    return cmd, proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - t0


def _markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            cells.append("" if pd.isna(v) else f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _table(name: str, csvs: dict[str, Path]) -> tuple[str, list[pd.DataFrame]]:
    frames = {d: pd.read_csv(p) for d, p in csvs.items() if p.exists()}
    if not frames:
        return "not characterised (see the command output above)", []
    if name == "reference":
        return _markdown(frames["reference"]), []
    base = frames.get("uniform", next(iter(frames.values())))
    ops = base["ops_per_cycle"] if "ops_per_cycle" in base else 1
    out = pd.DataFrame({"unit": base["name"], "area_um2": base["area_um2"],
                        "area_um2_per_mac": base["area_um2"] / ops, "gates_nand2": base["gates_nand2"],
                        "flip_flops": base["flip_flops"], "logic_depth": base["logic_depth"]})
    for d, f in frames.items():
        if d not in DISTRIBUTIONS:  # an area-only table
            continue
        out = out.merge(f[["name", "energy_pj_per_op"]].rename(
            columns={"name": "unit", "energy_pj_per_op": f"pJ_per_mac_{d}"}), on="unit", how="left")
    for c in ("ecp5_luts", "ecp5_dsps", "ecp5_fmax_mhz"):
        if c in base:
            out[c] = base[c].values
    published = []
    for d, p in csvs.items():
        pub = p.with_suffix(".published.csv")
        if pub.exists():
            published.append(pd.read_csv(pub).assign(distribution=d, table=name))
    return _markdown(out), published


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--out", default="docs/cost_tables.md")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cache", default=None)
    args = parser.parse_args()
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        parser.error(f"--tables must be among {', '.join(TABLES)}, not {', '.join(unknown)}")
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lowbit_cost_tables_") as tmp:
        csvs = {t: {d: Path(tmp) / f"{t}_{d}.csv" for d in _distributions(t)} for t in tables}
        # every table's first distribution before any second one: runs in parallel then work on
        # different units (the second distribution reuses the synthesis and the Verilator build)
        cmds = [_command(t, d, csvs[t][d], args.cache) for i in range(len(DISTRIBUTIONS))
                for t in tables for d in _distributions(t)[i:i + 1]]
        with cf.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for cmd, rc, output, dt in pool.map(_run, cmds):
                print(f"$ {shlex.join(cmd[:-1] if cmd[-1].startswith('--cache') else cmd)}  "
                      f"# exit {rc}, {dt:.0f} s", flush=True)
                print(output, flush=True)
        parts = [
            "# Cost tables (generated)",
            "",
            f"Generated by `python benchmarks/cost_tables.py` on {datetime.date.today().isoformat()}; "
            "every figure below is a measurement of our own RTL (yosys generic-CMOS synthesis, "
            "gate-level Verilator toggles) scaled by the calibration on Horowitz's 8-bit multiply "
            "(45 nm estimates). How to read them and how they compare with published figures: "
            "`docs/cost.md`. Energies are per multiply-accumulate; `uniform`: uniform codes, "
            "`gaussian`: N(0, (max/4)^2) quantised to the format. Commands (per distribution):",
            "",
        ]
        parts += [f"    {shlex.join(_command(t, _distributions(t)[0], Path(f'{t}.csv'), None))}" for t in tables]
        published = []
        for t in tables:
            md, pub = _table(t, csvs[t])
            parts += ["", f"## {TABLES[t][0]}", "", md]
            published += pub
        if published:
            pub = pd.concat(published, ignore_index=True)
            pub = pub[["table", "distribution", "numerator", "denominator", "metric", "ours", "published",
                       "ours_over_published", "source"]]
            parts += ["", "## Published ratios (relayed) next to ours", "", _markdown(pub)]
    text = "\n".join(parts) + "\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(out.suffix + ".tmp")
    tmp_out.write_text(text, encoding="utf-8")
    tmp_out.replace(out)
    print(text)
    print(f"wall time {time.perf_counter() - t_start:.0f} s for {len(cmds)} lowbit cost runs; written to {out}")


if __name__ == "__main__":
    main()
