"""The HTML report of a finished sweep: one self-contained page (plots embedded as PNG data URIs,
no network needed to view it) and the plots again as separate SVG and PNG files, with the
points of each Pareto front as CSV.

Sections: summary (points, failures, metrics not available and why); unit cost table (the
MAC unit characterised per format, where ``hw.cost`` figures exist in the results) next to the
published figures it is compared with; latency, energy and area per design point; Pareto fronts
of energy / area / latency against output error with the frontier points labelled; the
FP8-vs-INT8 and FP6-vs-FP16 comparisons on the sweep's own points; provenance of every figure.

A column whose source has not landed (or is empty for every point) is left out, and the page
says so; no figure is filled in. Latency is plotted only for points whose timing is complete
(every op's compute timed), since otherwise the simulator's cycles are a lower bound.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SpecError
from ._run import MANIFEST, RESULTS_CSV, RESULTS_PARQUET, check_output_dir, file_sha256

__all__ = ["REPORT_MARKER", "check_report_dir", "load_results", "pareto_front", "write_report"]

#: (column, axis label, scale to display units) of the cost metrics plotted against output error
COSTS = (("energy_pj", "energy (uJ)", 1e-6), ("array_area_mm2", "MAC array area (mm^2)", 1.0),
         ("latency_s", "latency (ms)", 1e3))
ERROR = ("output_error", "output error ||y - y_ref|| / ||y_ref|| (numerics mode)")
#: comparisons reproduced from the sweep's own points: (title, recipe, baseline recipe)
COMPARISONS = (("FP8 vs INT8", "FP8", "INT8"), ("FP6 vs FP16", "FP6", "FP16"))
#: published claims shown next to the sweep's own ratios (relayed, never used as a result)
PUBLISHED_CLAIMS = {
    "FP8 vs INT8": (
        "FP8-E4M3 MAC vs INT8 MAC: +53% with a fixed-point (Kulisch-style) accumulator, +183% accumulating "
        "in FP32 (gate-count model). Source: M. van Baalen et al., \"FP8 versus INT8 for efficient deep "
        "learning inference\", 2023. Compare with the MAC area ratio below (exact accumulation here)."),
    "FP6 vs FP16": (
        "FP6 (E3M2) weights vs FP16: 1.69x-2.65x higher normalized inference throughput for LLaMA-70b "
        "decode (bandwidth-bound; 16/6 = 2.67 is the bandwidth bound). Source: H. Xia et al., \"FP6-LLM\", "
        "2024. Compare with the latency ratio below, which is for this sweep's workloads (a prefill is "
        "compute-bound, where the ratio is near 1)."),
}


def load_results(results: str | Path) -> tuple[pd.DataFrame, dict]:
    """(results table, manifest) of a finished sweep folder (``results.parquet`` + ``sweep.json``).

    The folder must be one sweep's: ``results.csv`` and ``results.parquet`` must have the
    SHA-256 that ``sweep.json`` lists for them (two sweeps writing one folder, or a table edited
    or replaced by hand, are refused).

    Raises
    ------
    SpecError
        If the folder does not exist, is not a finished sweep (no ``sweep.json``), holds tables
        of another sweep, or its files cannot be read.
    """
    folder = Path(results)
    if not folder.is_dir():
        raise SpecError(f"results must be a sweep output folder, not {str(folder)!r}")
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise SpecError(f"results folder must hold a finished sweep ({MANIFEST}), not {str(folder)!r} without it")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(f"results folder {str(folder)!r} must hold a readable {MANIFEST}, not ({exc})") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not {RESULTS_CSV, RESULTS_PARQUET} <= set(files):
        raise SpecError(f"results folder must hold one sweep whose {MANIFEST} lists the checksums of its tables, "
                        f"not {str(folder)!r} (written by an older lowbit sweep: run the sweep again)")
    for name in (RESULTS_CSV, RESULTS_PARQUET):
        path = folder / name
        try:
            digest = file_sha256(path)
        except OSError as exc:
            raise SpecError(f"results folder {str(folder)!r} must hold a readable {name}, not ({exc.strerror})") from None
        if digest != files[name]:
            raise SpecError(f"results folder must hold the files of one sweep, not {str(folder)!r} "
                            f"({name} is not the one its {MANIFEST} lists)")
    try:
        frame = pd.read_parquet(folder / RESULTS_PARQUET)
    except (OSError, ValueError) as exc:
        raise SpecError(f"results folder {str(folder)!r} must hold readable sweep files, not ({exc})") from None
    return frame, manifest


def pareto_front(cost: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Indices of the points not dominated when minimising both ``cost`` and ``error`` (a point
    is dominated if another is no worse in both and better in one), sorted by cost."""
    cost, error = np.asarray(cost, dtype=float), np.asarray(error, dtype=float)
    order = np.lexsort((error, cost))
    front, best = [], math.inf
    for i in order:
        if error[i] < best:
            front.append(int(i))
            best = error[i]
    return np.asarray(front, dtype=int)


def _figure(height: float = 4.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4 if height <= 4.2 else 8.0, height), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def _save(fig, plots: Path, stem: str) -> str:
    """Write ``stem``.svg and ``stem``.png; returns the PNG as a data URI."""
    fig.tight_layout()
    fig.savefig(plots / f"{stem}.svg", format="svg", metadata={"Date": None})
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    (plots / f"{stem}.png").write_bytes(buf.getvalue())
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _usable(frame: pd.DataFrame, col: str) -> pd.Series | None:
    if col not in frame.columns:
        return None
    s = pd.to_numeric(frame[col], errors="coerce")
    return s if np.isfinite(s.to_numpy(dtype=float)).any() else None


WORKLOAD = ["model", "seq_len", "batch", "decode"]


def _pareto_plot(frame: pd.DataFrame, col: str, label: str, scale: float, plots: Path,
                 workload: str = "", stem: str = "") -> tuple[str, pd.DataFrame]:
    ok = frame[np.isfinite(frame[col].astype(float)) & np.isfinite(frame[ERROR[0]].astype(float))]
    cost = ok[col].to_numpy(dtype=float) * scale
    err = ok[ERROR[0]].to_numpy(dtype=float)
    front = pareto_front(cost, err)
    fig, ax = _figure()
    ax.scatter(cost, err, s=28, color="#9aa5b1", label="design points", zorder=2)
    ax.plot(cost[front], err[front], "-o", color="#c0392b", ms=6, label="Pareto front", zorder=3)
    labels = ok["label"].to_numpy()
    for i in front:
        ax.annotate(str(labels[i]), (cost[i], err[i]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel(label)
    ax.set_ylabel("output error (relative RMS)")
    if err.min() > 0:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{label.split(' (')[0]} vs output error" + (f": {workload}" if workload else ""), fontsize=10)
    uri = _save(fig, plots, f"pareto_{col}{stem}")
    table = ok.iloc[front][["label", col, ERROR[0]]].copy()
    table[col] = table[col].astype(float) * scale
    table = table.rename(columns={col: label, ERROR[0]: "output error"})
    table.to_csv(plots / f"pareto_{col}{stem}.csv", index=False)
    return uri, table


def _bar_plot(frame: pd.DataFrame, col: str, label: str, scale: float, plots: Path) -> str:
    ok = frame[np.isfinite(frame[col].astype(float))]
    fig, ax = _figure(height=max(4.2, 1.2 + 0.2 * len(ok)))
    ax.barh(ok["label"].astype(str), ok[col].to_numpy(dtype=float) * scale, color="#2e86c1")
    ax.set_xlabel(label)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    ax.tick_params(axis="y", labelsize=7)
    ax.invert_yaxis()
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(f"{label.split(' (')[0]} per design point")
    return _save(fig, plots, f"bars_{col}")


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, escape=True, na_rep="—", float_format=lambda v: f"{v:.4g}", border=0,
                      classes="t")


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _img(uri: str, alt: str) -> str:
    return f'<figure><img src="{uri}" alt="{html.escape(alt)}"><figcaption>{html.escape(alt)}</figcaption></figure>'


def _published_table() -> tuple[pd.DataFrame | None, str]:
    try:
        from hw.cost import HOROWITZ_2014
    except ImportError:
        return None, "hw.cost has not landed"
    rows = [{"operation": op.operation, "energy_pj": op.energy_pj, "area_um2": op.area_um2, "node": op.node,
             "source": op.source} for op in HOROWITZ_2014.values()]
    return pd.DataFrame(rows), ""


def _nonlinear_table() -> tuple[pd.DataFrame | None, str]:
    try:
        from hw.nonlinear import accuracy_table
    except ImportError:
        return None, "hw.nonlinear has not landed"
    t = accuracy_table(bits=(8,))
    return t[["kernel", "variant", "s_in", "max_abs_err", "mean_abs_err", "max_abs_ref"]], ""


def _comparisons(frame: pd.DataFrame, metric_cols: list[tuple[str, str, float]]) -> list[str]:
    out = []
    hw_cols = ["model", "seq_len", "batch", "decode", "hardware", "array_rows", "array_cols", "dataflows",
               "sram_kib", "dram_gbps", "accumulate"]
    for title, rec, base in COMPARISONS:
        out.append(f"<h3>{html.escape(title)}</h3>")
        out.append(f'<p class="note">Published claim (relayed): {html.escape(PUBLISHED_CLAIMS[title])}</p>')
        a, b = frame[frame.recipe.str.upper() == rec], frame[frame.recipe.str.upper() == base]
        if a.empty or b.empty:
            out.append(_p(f"Not in this sweep: it needs points of both recipes {rec} and {base} "
                          f"(present: {', '.join(sorted(set(frame.recipe)))})."))
            continue
        merged = a.merge(b, on=hw_cols, suffixes=("", "_base"))
        if merged.empty:
            out.append(_p(f"No pair of {rec} and {base} points on the same hardware and workload."))
            continue
        rows = []
        for _, r in merged.iterrows():
            row = {"design point": " ".join(w for w in str(r.label).split() if w != r.recipe) or "-",
                   "workload": f"{r.model} {r.seq_len} tok"}
            for col, label, scale in metric_cols:
                v, vb = float(r[col]), float(r[col + "_base"])
                if math.isfinite(v) and math.isfinite(vb):
                    row[f"{label} {rec}"] = v * scale
                    row[f"{label} {base}"] = vb * scale
                    row[f"{label} ratio {rec}/{base}"] = v / vb if vb else math.nan
            rows.append(row)
        out.append(_table(pd.DataFrame(rows)))
        out.append(_p(f"Ratios of {rec} to {base} on the same hardware and workload, from this sweep's own "
                      f"points (sources: see Provenance)."))
        if "mac_area_um2" in merged.columns and np.isfinite(merged["mac_area_um2"].astype(float)).any():
            r0 = merged.iloc[0]
            out.append(_p(f"MAC unit area {rec}/{base}: {float(r0.mac_area_um2) / float(r0.mac_area_um2_base):.3g} "
                          f"({r0.mac_unit} vs {r0.mac_unit_base})."))
    return out


CSS = """body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table.t{border-collapse:collapse;font-size:.85em;margin:.6em 0}table.t th,table.t td{border:1px solid #ddd;
padding:.25em .5em;text-align:right}table.t th{background:#f4f6f8}table.t td:first-child{text-align:left}
figure{display:inline-block;margin:.5em 1em .5em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.8em;color:#555}.note{color:#8a4b00}code{font-size:.85em}"""


#: the file listing what a report wrote in its folder (so a later report replaces only those)
REPORT_MARKER = ".lowbit-report.json"
_LEGACY_PLOT = re.compile(r"(pareto|bars)_[\w.+-]*\.(png|svg|csv)")


def _own_files(out: Path) -> set[str] | None:
    """The files (relative POSIX paths) an earlier report wrote in ``out``, from its marker; for a
    report written before the marker existed (only ``index.html`` and generated plots), those;
    ``None`` if ``out`` is not a report folder."""
    marker = out / REPORT_MARKER
    if marker.is_file():
        try:
            listed = json.loads(marker.read_text(encoding="utf-8")).get("files", [])
        except (OSError, ValueError, AttributeError):
            return None
        return {str(f) for f in listed if isinstance(f, str)} | {REPORT_MARKER}
    entries = {e.name for e in out.iterdir()}
    plots = out / "plots"
    if entries and entries <= {"index.html", "plots"} and (not plots.exists() or plots.is_dir() and all(
            f.is_file() and _LEGACY_PLOT.fullmatch(f.name) for f in plots.iterdir())):
        return {e for e in ("index.html",) if e in entries} | (
            {f"plots/{f.name}" for f in plots.iterdir()} if plots.is_dir() else set())
    return None


def check_report_dir(out_dir: str | Path, results: str | Path) -> Path:
    """``out_dir`` as a Path, checked before any work: a report is written only into a new folder,
    an empty one or an earlier report's, never into (or over) the results folder.

    Raises
    ------
    SpecError
        If ``out_dir`` is a file, is the results folder, or is a non-empty folder that no report
        wrote.
    """
    out = check_output_dir(out_dir, "report folder")
    if out.exists() and out.resolve() == Path(results).resolve():
        raise SpecError(f"report folder must not be the results folder, not {str(out)!r} "
                        f"(the report would replace the sweep's files)")
    if out.is_dir() and any(out.iterdir()) and _own_files(out) is None:
        names = sorted(e.name for e in out.iterdir())
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        raise SpecError(f"report folder must be new, empty or an earlier lowbit report, not {str(out)!r} "
                        f"(it holds {shown}; choose another -o)")
    return out


def write_report(results: str | Path, out_dir: str | Path, *, title: str | None = None) -> Path:
    """Write ``index.html`` and ``plots/`` (SVG + PNG) for the sweep in ``results``.

    The report is built in a temporary folder; a new ``out_dir`` is then created by one rename,
    and in an existing one (empty, or an earlier report's) the new files replace the earlier
    report's, whose files not written again are removed. Nothing the report did not write is
    touched, so a failed or killed run leaves no partial report and loses no file.

    Raises
    ------
    SpecError
        If ``out_dir`` is a file, the results folder or a foreign non-empty folder, or
        ``results`` is not a finished sweep folder.
    """
    out = check_report_dir(out_dir, results)
    frame, manifest = load_results(results)
    existing = out.is_dir()
    old = (_own_files(out) or set()) if existing else set()
    if not existing:
        out.parent.mkdir(parents=True, exist_ok=True)
    parent = out if existing else out.resolve().parent
    tmp = Path(tempfile.mkdtemp(prefix=".lowbit-report.", suffix=".tmp", dir=parent))
    tmp.chmod(0o755)
    try:
        _build(frame, manifest, tmp, title or f"lowbit sweep report: {manifest.get('name', '')}")
        made = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        marker = {"files": made, "sweep_id": manifest.get("sweep_id", ""), "results": str(Path(results).resolve())}
        (tmp / REPORT_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        if not existing:
            tmp.rename(out)
            return out / "index.html"
        clash = [f for f in made if (out / f).exists() and f not in old]
        if clash:
            raise SpecError(f"report folder must hold no file of a report's names that an earlier report did not "
                            f"write, not {str(out)!r} (it holds {clash[0]})")
        for f in made:  # plots first, the page and the marker last
            if f != "index.html":
                (out / f).parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / f, out / f)
        os.replace(tmp / "index.html", out / "index.html")
        os.replace(tmp / REPORT_MARKER, out / REPORT_MARKER)
        for f in sorted(old - set(made) - {REPORT_MARKER}):  # ours from the earlier report, not written again
            (out / f).unlink(missing_ok=True)
        plots = out / "plots"
        if plots.is_dir() and not any(plots.iterdir()):
            plots.rmdir()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "index.html"


def _build(frame: pd.DataFrame, manifest: dict, folder: Path, title: str) -> None:
    plots = folder / "plots"
    plots.mkdir()
    body: list[str] = [f"<h1>{html.escape(title)}</h1>"]
    if manifest.get("description"):
        body.append(_p(manifest["description"]))
    n_fail = int((frame.status != "ok").sum())
    body.append("<h2>Summary</h2>")
    body.append(_p(f"{len(frame)} design points, {len(frame) - n_fail} complete, {n_fail} with an error; "
                   f"metrics asked for: {', '.join(manifest.get('metrics', []))}."))
    for metric, reason in manifest.get("unavailable", {}).items():
        body.append(f'<p class="note">{html.escape(f"Metric {metric}: not available ({reason}); its columns are left out.")}</p>')
    if n_fail:
        body.append(_table(frame.loc[frame.status != "ok", ["label", "error"]]))

    # which figures exist
    frame = frame.copy()
    notes: list[str] = []
    if "latency_s" in frame.columns and "latency_complete" in frame.columns:
        incomplete = ~frame["latency_complete"].astype("boolean").fillna(False).astype(bool)
        if incomplete.any():
            notes.append(f"Latency left out for {int(incomplete.sum())} point(s) whose compute timing is incomplete "
                         f"(the simulator's cycles are a lower bound there).")
            frame.loc[incomplete, "latency_s"] = np.nan
    available = []
    for col, label, scale in COSTS:
        if _usable(frame, col) is not None:
            available.append((col, label, scale))
        else:
            why = {"energy_pj": "energy", "array_area_mm2": "area", "latency_s": "latency"}[col]
            reason = manifest.get("unavailable", {}).get(why)
            if reason is None and col == "energy_pj" and "energy_provenance" in frame.columns:
                reason = next((p for p in frame["energy_provenance"] if p), "")
            notes.append(f"{label.split(' (')[0]}: no figure in these results"
                         + (f" ({reason})" if reason else " (metric not asked for)") + "; left out.")
    has_error = _usable(frame, ERROR[0]) is not None
    if not has_error:
        notes.append("Output error: no figure in these results"
                     + (f" ({manifest['unavailable']['accuracy']})" if "accuracy" in manifest.get("unavailable", {})
                        else "") + "; Pareto fronts left out.")

    body.append("<h2>Unit cost per format</h2>")
    unit_cols = [c for c in ("mac_unit", "weights", "activations", "accumulator") if c in frame.columns]
    unit_cols += [c for c in frame.columns if c.startswith("mac_") and c not in unit_cols and c != "mac_utilisation"]
    if "mac_unit" in unit_cols:
        units = frame[unit_cols].drop_duplicates("mac_unit")
        units = units[[c for c in units.columns if c in ("mac_unit", "weights", "activations", "accumulator")
                       or np.isfinite(pd.to_numeric(units[c], errors="coerce").to_numpy(dtype=float)).any()]]
        body.append(_table(units))
        body.append(_p("Our figures: the MAC unit's own RTL characterised by hw.cost (45 nm estimates calibrated on "
                       "one published point; see Provenance)."))
    else:
        reason = manifest.get("unavailable", {}).get("area", "area not asked for in this sweep")
        body.append(f'<p class="note">{html.escape(f"Characterised unit figures: not available ({reason}).")}</p>')
    pub, why = _published_table()
    if pub is not None:
        body.append(_p("Published figures they are compared with (relayed, not measured here):"))
        body.append(_table(pub))
    else:
        body.append(_p(f"Published figures: not available ({why})."))

    body.append("<h2>Latency, energy and area per design point</h2>")
    per_point = ["label", "recipe", "array_rows", "array_cols"]
    shown = frame[per_point].copy()
    for col, label, scale in available:
        shown[label] = frame[col].astype(float) * scale
    for extra, label in (("cycles", "cycles"), ("mac_utilisation", "MAC utilisation"), (ERROR[0], "output error"),
                         ("output_sqnr_db", "SQNR (dB)")):
        if _usable(frame, extra) is not None:
            shown[label] = frame[extra].astype(float)
    shown["status"] = frame["status"]
    body.append(_table(shown))
    for n in notes:
        body.append(f'<p class="note">{html.escape(n)}</p>')
    for col, label, scale in available:
        body.append(_img(_bar_plot(frame, col, label, scale, plots), f"{label} per design point"))

    body.append("<h2>Pareto fronts: cost against output error</h2>")
    if has_error and available:
        groups = list(frame.groupby(WORKLOAD, sort=False))
        if len(groups) > 1:
            body.append(_p("One front per workload (a cost is comparable only on the same model and tokens)."))
        for key, grp in groups:
            workload = f"{key[0]}, {key[1]} tokens, batch {key[2]}" + (f", {key[3]} decode steps" if key[3] else "")
            stem = "" if len(groups) == 1 else "_" + "_".join(str(k) for k in key)
            if len(groups) > 1:
                body.append(f"<h3>{html.escape(workload)}</h3>")
            for col, label, scale in available:
                if _usable(grp, col) is None or _usable(grp, ERROR[0]) is None:
                    continue
                uri, front = _pareto_plot(grp, col, label, scale, plots, workload, stem)
                body.append(_img(uri, f"{label} vs output error ({workload}); frontier points labelled"))
                body.append(_table(front))
    else:
        body.append(f'<p class="note">{html.escape("No Pareto front: it needs output error and at least one cost figure.")}</p>')

    body.append("<h2>Reproductions</h2>")
    body += _comparisons(frame, [(c, lab, s) for c, lab, s in available] + ([(ERROR[0], "output error", 1.0)]
                                                                            if has_error else []))

    body.append("<h2>Nonlinear units: accuracy of the integer kernels</h2>")
    nl, why = _nonlinear_table()
    if nl is not None:
        body.append(_p("Shift-add / integer GELU, softmax and LayerNorm kernels (the I-BERT recipe's nonlinear "
                       "units) against float64, 8-bit inputs, per input scale s_in; errors in real output units. "
                       "Measured: hw.nonlinear.accuracy_table (bit-exact golden models), seed 0."))
        body.append(_table(nl))
    else:
        body.append(f'<p class="note">{html.escape(f"Not available ({why}).")}</p>')

    body.append("<h2>Provenance</h2>")
    prov_cols = [c for c in frame.columns if c.endswith("_provenance")]
    for c in prov_cols:
        vals = sorted({v for v in frame[c].astype(str) if v})
        body.append(f"<h3>{html.escape(c.replace('_provenance', ''))}</h3>")
        body.append("<ul>" + "".join(f"<li>{html.escape(v)}</li>" for v in vals) + "</ul>")
    tools = sorted(set(frame["tool_versions"])) if "tool_versions" in frame.columns else []
    body.append("<h3>Tools and code</h3>")
    for t in tools:
        body.append(f"<p><code>{html.escape(t)}</code></p>")
    if "code_sha256" in frame.columns:
        for t in sorted(set(frame["code_sha256"])):
            body.append(f"<p>source hashes: <code>{html.escape(t)}</code></p>")
    keys = frame[["label", "cache_key"] + (["rtl_sha256"] if "rtl_sha256" in frame.columns else [])].copy()
    body.append(_p("Cache key of every point (hash of its descriptor, the RTL it generates and the tool versions):"))
    body.append(_table(keys))
    run = manifest.get("run", {})
    body.append(_p(f"Sweep spec {manifest.get('spec', '')}; last run: {run.get('computed', '?')} computed, "
                   f"{run.get('cached', '?')} cached, {run.get('failed', '?')} failed."))

    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><link rel=\"icon\" href=\"data:,\">"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    (folder / "index.html").write_text(page, encoding="utf-8")
