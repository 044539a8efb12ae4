"""The per-format cost tables (issues 6 and 13), produced by ``lowbit cost`` and gathered into one
Markdown file (default ``docs/cost_tables.md``). Default tables, on the standard-cell flow (OSU
0.18 um cells mapped for a 200 MHz clock at 45 nm (buffered), OpenSTA timing, power from our own gate-level
toggles and the Liberty tables, figures scaled to 45 nm by Stillmaker & Baas, derived):
MACs with exact and FP32 accumulators (W4A8 included), the MX/NV block dot-product units, every
unit on uniform codes and on Gaussian data, with line items; an accelerator budget
(``--hw``) at 7 nm and at 45 nm (where a characterised SRAM leakage figure exists: OpenRAM FreePDK45); and the published
comparisons with matched definitions (Horowitz, van Baalen, Chen, dINT, minifloat vs INT on FPGA:
``hw.cost.matched_comparisons``). The calibrated generic-gate tables of issue 6 (with FPGA
resources, and the 32-lane units) are the ``generic_*`` tables (``--tables generic_mac_exact,...``).

Each table is one ``lowbit cost ... --csv`` run (the commands are written into the file);
results come from the cost cache when present (``--cache``, default ``$LOWBIT_CACHE_DIR`` or
``~/.cache/lowbit``), so a re-run only measures what changed. Runs ``--jobs`` tables at once.
Prints each table and the wall time.

Usage: python benchmarks/cost_tables.py [--tables mac,mac_fp32,block,budget,budget_45,matched] (default)
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
LIBERTY_MAC_FORMATS = "int4,int8,e4m3fn,e5m2,e2m1fn,int4:e4m3fn"
#: clock target (MHz at 45 nm) the per-unit standard-cell tables are mapped for: with a target the flow
#: buffers and sizes (hw.flow.synthesize_liberty), and every unit of these tables meets this one at
#: pipeline 0, so they compare units on one mapping; each unit's own Fmax is its column
TABLE_CLOCK_MHZ = 200
TABLES = {  # table -> (title, lowbit cost arguments); run in this order
    "mac": ("MAC, exact (Kulisch-style) accumulator, standard cells (45 nm, derived)",
            [f"--formats={LIBERTY_MAC_FORMATS}", "--acc=exact", "--node=45", f"--clock-mhz={TABLE_CLOCK_MHZ}"]),
    "mac_fp32": ("MAC, FP32 accumulator, standard cells (45 nm, derived)",
                 ["--formats=int8,e4m3fn,int4:e4m3fn", "--acc=fp32", "--node=45", f"--clock-mhz={TABLE_CLOCK_MHZ}"]),
    "block": ("Block dot-product units (one block per cycle, sum rounded to FP32), standard cells (45 nm, derived)",
              ["--formats=mxfp8_e4m3,mxint8,nvfp4,nvint4", "--node=45", f"--clock-mhz={TABLE_CLOCK_MHZ}"]),
    "budget": ("Accelerator budget: examples/hw_edge_16x16.toml, INT8 recipe, 7 nm (derived)",
               ["--hw=examples/hw_edge_16x16.toml", "--recipe=INT8", "--node=7"]),
    "budget_45": ("Accelerator budget at 45 nm, with SRAM leakage from the characterised OpenRAM FreePDK45 "
                  "macros (hw.cost._sram; derived)",
                  ["--hw=examples/hw_edge_16x16.toml", "--recipe=INT8", "--node=45"]),
    "matched": ("Published comparisons with matched definitions (hw.cost.matched_comparisons, 45 nm derived)", []),
    "generic_reference": ("Generic flow: Horowitz ISSCC 2014 operators (45 nm): calibrated predictions and the "
                          "ratios (int8_mul is the calibration anchor)", ["--flow=generic", "--reference"]),
    "generic_mx": ("Generic flow: block dot-product units", ["--flow=generic", f"--formats={BLOCK_FORMATS}"]),
    "generic_mac_exact": ("Generic flow: MAC, exact accumulator", ["--flow=generic", f"--formats={ELEMENT_FORMATS}",
                                                                   "--acc=exact", "--lanes=1", "--fpga=ecp5"]),
    "generic_mac_fp32": ("Generic flow: MAC, FP32 accumulator", ["--flow=generic", f"--formats={ELEMENT_FORMATS},int8@exact",
                                                                 "--acc=fp32", "--lanes=1", "--fpga=ecp5"]),
    "generic_dot32_exact": ("Generic flow: 32-lane dot-product unit, exact accumulator",
                            ["--flow=generic", f"--formats={NARROW_FORMATS}", "--acc=exact", "--lanes=32"]),
    "generic_dot32_fp32": ("Generic flow: 32-lane dot-product unit, FP32 accumulator (area only)",
                           ["--flow=generic", f"--formats={DOT32_FP32_FORMATS}", "--acc=fp32", "--lanes=32",
                            "--no-energy"]),
}
DEFAULT_TABLES = ("mac", "mac_fp32", "block", "budget", "budget_45", "matched")
DISTRIBUTIONS = ("uniform", "gaussian")


def _distributions(table: str) -> tuple[str, ...]:
    """The reference operators have one fixed stimulus (``hw.cost.reference_stimulus``); tables
    without energy need no stimulus at all."""
    if table in ("generic_reference", "budget", "budget_45", "matched"):
        return ("reference",)
    return ("none",) if "--no-energy" in TABLES[table][1] else DISTRIBUTIONS


def _command(table: str, distribution: str, csv: Path, cache: str | None) -> list[str]:
    if table == "matched":
        return ["matched", str(csv), *([cache] if cache else [])]
    dist = [f"--distribution={distribution}"] if distribution in DISTRIBUTIONS else []
    cmd = ["lowbit", "cost", *TABLES[table][1], *dist, "--no-progress", f"--csv={csv}"]
    return cmd + ([f"--cache={cache}"] if cache else [])


#: the matched-comparison table is a Python call, run in a subprocess like the others
_MATCHED = ("import sys; from hw.cost import matched_comparisons; "
            "matched_comparisons(cache=sys.argv[2] if len(sys.argv) > 2 else None).to_csv(sys.argv[1], index=False)")


def _run(cmd: list[str]) -> tuple[list[str], int, str, float]:
    t0 = time.perf_counter()
    if cmd[0] == "matched":
        exe = [sys.executable, "-c", _MATCHED, *cmd[1:]]
    else:
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


def _liberty_table(frames: dict[str, pd.DataFrame]) -> str:
    base = frames.get("uniform", next(iter(frames.values())))
    node = int(base["node_nm"].iloc[0])
    out = pd.DataFrame({"unit": base["name"], "pipeline": base["pipeline"],
                        f"fmax_mhz_{node}nm": base[f"fmax_mhz_{node}nm"],
                        f"area_um2_{node}nm": base[f"area_um2_{node}nm"],
                        "area_um2_per_product": base[f"area_um2_{node}nm"] / base["ops_per_cycle"]})
    for d, f in frames.items():
        out[f"pJ_per_product_{d}"] = f[f"energy_pj_per_op_{node}nm"].values
        amort = [c for c in f.columns if c.startswith("energy_pj_per_product_k")]
        if amort:
            out[f"pJ_per_product_{d}_{amort[0].split('_')[4]}"] = f[amort[0]].values
    items = [c for c in base.columns if c.startswith("area_") and c.endswith("_um2") and c not in
             ("area_um2", f"area_um2_{node}nm")]
    for c in items:
        out[f"%{c[5:-4]}"] = (100 * base[c] / base["area_um2"]).round(1).values
    return _markdown(out)


def _table(name: str, csvs: dict[str, Path]) -> tuple[str, list[pd.DataFrame]]:
    frames = {d: pd.read_csv(p) for d, p in csvs.items() if p.exists()}
    if not frames:
        return "not characterised (see the command output above)", []
    if name in ("generic_reference", "budget", "budget_45", "matched"):
        return _markdown(frames["reference"]), []
    if not name.startswith("generic_"):
        return _liberty_table(frames), []
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
    parser.add_argument("--tables", default=",".join(DEFAULT_TABLES))
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
            f"Generated by `python benchmarks/cost_tables.py --tables {','.join(tables)}` on "
            f"{datetime.date.today().isoformat()}. Standard-cell tables: our own RTL mapped onto the OSU 0.18 um "
            "cells (yosys + ABC, hierarchy kept per submodule; the MAC and block tables mapped for a "
            f"{TABLE_CLOCK_MHZ} MHz clock at 45 nm, buffered and sized, which every unit meets at pipeline 0), timed by OpenSTA, powered from the Liberty "
            "tables (internal, switching, leakage per cell: hw.flow.netlist_power) with the per-pin activities of "
            "our zero-delay gate-level simulation (500 cycles), then scaled to the node by "
            "Stillmaker & Baas 2017 (derived, not measured). Energies are per product (dynamic, at the "
            "library's supply scaled); `pJ_per_product_<dist>_k4096` amortises the output conversion over "
            "4096 products; `%<item>`: line items' share of the unit's area. `uniform`: uniform codes, "
            "`gaussian`: N(0, (max/4)^2) quantised to the format. How to read them: `docs/cost.md`. "
            "Commands (per distribution):",
            "",
        ]
        parts += [f"    {shlex.join(_command(t, _distributions(t)[0], Path(f'{t}.csv'), None))}" if t != "matched"
                  else "    python -c 'from hw.cost import matched_comparisons; print(matched_comparisons())'"
                  for t in tables]
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
