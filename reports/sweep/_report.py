"""The HTML report of a finished sweep: one self-contained page (plots embedded as PNG data URIs,
no network needed to view it) and the plots again as separate SVG and PNG files, with the
points of each Pareto front as CSV.

Sections: summary (points, failures, metrics not available and why); unit cost table (the
MAC unit characterised per format, where ``hw.cost`` figures exist in the results) next to the
published figures it is compared with; latency, energy and area per design point; Pareto fronts
of energy / area / latency against output error with the frontier points labelled; the
FP8-vs-INT8 and FP6-vs-FP16 comparisons on the sweep's own points; provenance of every figure.

The page is rendered from the Jinja2 template ``templates/report.html.j2`` (with
``report.css``); this module builds its sections as lists of blocks. The Pareto plots are inline
SVG with their text kept as text: one colour and marker per recipe, every point labelled, the
legend outside the axes, the accuracy source and its limits stated above them; when the sweep
has MAC array areas and several array sizes, each cost is also plotted against area per recipe
so formats are compared at equal area.

A column whose source is unavailable for the sweep (or empty for every point) is left out, and
the page says so; no figure is filled in. Latency is plotted only for points whose timing is complete
(every op's compute timed), since otherwise the simulator's cycles are a lower bound.
"""
from __future__ import annotations

import base64
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

__all__ = ["REPORT_MARKER", "accuracy_statement", "energy_statement", "check_report_dir", "load_results", "pareto_front", "write_report"]

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


def _figure(height: float = 4.2, width: float = 6.4):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def _save(fig, plots: Path, stem: str) -> str:
    """Write ``stem``.svg and ``stem``.png (legends outside the axes included); returns the PNG
    as a data URI."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "lowbit"}):
        fig.savefig(plots / f"{stem}.svg", format="svg", metadata={"Date": None}, bbox_inches="tight")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None}, bbox_inches="tight")
    (plots / f"{stem}.png").write_bytes(buf.getvalue())
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _inline_svg(fig) -> str:
    """The figure as an inline ``<svg>`` element with its text kept as text (so the page can be
    searched and checked: every label is a ``<text>``), ids unique to this figure."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "lowbit"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    # inside HTML the namespaces are implied and the RDF metadata is noise: both name URLs only
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
    return re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text, count=2)


def _usable(frame: pd.DataFrame, col: str) -> pd.Series | None:
    if col not in frame.columns:
        return None
    s = pd.to_numeric(frame[col], errors="coerce")
    return s if np.isfinite(s.to_numpy(dtype=float)).any() else None


WORKLOAD = ["model", "seq_len", "batch", "decode"]
#: marker per recipe (colour from matplotlib's tab10 cycle), so formats are told apart on a plot
MARKERS = "osD^v<>Ph*X"


def _series_style(names: list[str]) -> dict[str, tuple[str, str]]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {n: (cmap(i % 10), MARKERS[i % len(MARKERS)]) for i, n in enumerate(names)}


def _point_name(label: str, recipe: str) -> str:
    """A point's label without its recipe (the legend gives the recipe), or the recipe alone."""
    rest = " ".join(w for w in str(label).split() if w != recipe)
    return rest or str(recipe)


def _pareto_plot(frame: pd.DataFrame, col: str, label: str, scale: float, plots: Path,
                 workload: str = "", stem: str = "") -> tuple[str, str, pd.DataFrame]:
    """Cost against output error: one colour and marker per recipe (format), every point
    labelled (SVG ids ``pareto-point-I`` / ``pareto-label-I``), the Pareto front drawn through
    the non-dominated points, the legend outside the axes. Returns (plot id, inline SVG, front
    table); the SVG, PNG and front CSV are also written to ``plots``."""
    ok = frame[np.isfinite(frame[col].astype(float)) & np.isfinite(frame[ERROR[0]].astype(float))]
    cost = ok[col].to_numpy(dtype=float) * scale
    err = ok[ERROR[0]].to_numpy(dtype=float)
    front = pareto_front(cost, err)
    recipes = list(dict.fromkeys(ok["recipe"].astype(str)))
    style = _series_style(recipes)
    fig, ax = _figure(height=4.4, width=7.6)
    ax.plot(cost[front], err[front], "--", color="#555555", lw=1.2, label="Pareto front", zorder=2)
    seen: set[str] = set()
    labels, recs = ok["label"].astype(str).to_numpy(), ok["recipe"].astype(str).to_numpy()
    on_front = set(front.tolist())
    for i in range(len(ok)):
        color, marker = style[recs[i]]
        (pt,) = ax.plot([cost[i]], [err[i]], linestyle="none", marker=marker, ms=8 if i in on_front else 6,
                        color=color, markeredgecolor="black" if i in on_front else color, zorder=3,
                        label=recs[i] if recs[i] not in seen else None)
        pt.set_gid(f"pareto-point-{i}")
        seen.add(recs[i])
        ann = ax.annotate(_point_name(labels[i], recs[i]) if len(recipes) > 1 else labels[i], (cost[i], err[i]),
                          textcoords="offset points", xytext=(6, 6 if i % 2 == 0 else -11), fontsize=7,
                          color="#222222")
        ann.set_gid(f"pareto-label-{i}")
    ax.set_xlabel(label)
    metric = ok["accuracy_metric"].dropna().unique() if "accuracy_metric" in ok.columns else []
    ax.set_ylabel(f"output error ({metric[0]}, checkpoint)" if len(metric) == 1 else "output error (relative RMS)")
    if err.min() > 0:
        ax.set_yscale("log")
    ax.margins(x=0.15, y=0.15)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, title="recipe",
              title_fontsize=8).set_gid("plot-legend")
    ax.set_title(f"{label.split(' (')[0]} vs output error" + (f": {workload}" if workload else ""), fontsize=10)
    name = f"pareto_{col}{stem}"
    _save(fig, plots, name)
    svg = _inline_svg(fig)
    table = ok.iloc[front][["label", col, ERROR[0]]].copy()
    table[col] = table[col].astype(float) * scale
    table = table.rename(columns={col: label, ERROR[0]: "output error"})
    table.to_csv(plots / f"{name}.csv", index=False)
    return name, svg, table


def _equal_area_plot(frame: pd.DataFrame, col: str, label: str, scale: float, plots: Path,
                     workload: str = "", stem: str = "") -> tuple[str, str] | None:
    """``col`` against MAC array area, one line per recipe (format) through its array sizes: the
    formats compared at equal area (read along a vertical line). ``None`` when the sweep has no
    area figure or a single array size."""
    if _usable(frame, "array_area_mm2") is None or frame[["array_rows", "array_cols"]].drop_duplicates().shape[0] < 2:
        return None
    ok = frame[np.isfinite(frame[col].astype(float)) & np.isfinite(frame["array_area_mm2"].astype(float))]
    if ok.empty:
        return None
    recipes = list(dict.fromkeys(ok["recipe"].astype(str)))
    style = _series_style(recipes)
    fig, ax = _figure(height=4.4, width=7.6)
    k = 0
    for rec in recipes:
        grp = ok[ok["recipe"].astype(str) == rec].sort_values("array_area_mm2")
        color, marker = style[rec]
        x, y = grp["array_area_mm2"].to_numpy(dtype=float), grp[col].to_numpy(dtype=float) * scale
        ax.plot(x, y, "-", marker=marker, color=color, label=rec, zorder=3)
        for xi, yi, lab in zip(x, y, grp["label"].astype(str)):
            ann = ax.annotate(_point_name(lab, rec), (xi, yi), textcoords="offset points", xytext=(6, 4), fontsize=7)
            ann.set_gid(f"area-label-{k}")
            k += 1
    ax.set_xlabel("MAC array area (mm²)")
    ax.set_ylabel(label)
    ax.margins(x=0.15, y=0.15)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, title="recipe",
              title_fontsize=8).set_gid("plot-legend")
    ax.set_title(f"{label.split(' (')[0]} against MAC array area" + (f": {workload}" if workload else ""),
                 fontsize=10)
    name = f"area_{col}{stem}"
    _save(fig, plots, name)
    return name, _inline_svg(fig)


def _bar_plot(frame: pd.DataFrame, col: str, label: str, scale: float, plots: Path) -> str:
    ok = frame[np.isfinite(frame[col].astype(float))]
    fig, ax = _figure(height=max(4.2, 1.2 + 0.2 * len(ok)), width=8.0)
    ax.barh(ok["label"].astype(str), ok[col].to_numpy(dtype=float) * scale, color="#2e86c1")
    ax.set_xlabel(label)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    ax.tick_params(axis="y", labelsize=7)
    ax.invert_yaxis()
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(f"{label.split(' (')[0]} per design point")
    return _save(fig, plots, f"bars_{col}")


def _table(df: pd.DataFrame) -> dict:
    return {"kind": "table", "html": df.to_html(index=False, escape=True, na_rep="—",
                                                float_format=lambda v: f"{v:.4g}", border=0, classes="t")}


def _p(text: str) -> dict:
    return {"kind": "p", "text": text}


def _note(text: str) -> dict:
    return {"kind": "note", "text": text}


def _h3(text: str) -> dict:
    return {"kind": "h3", "text": text}


def _img(uri: str, caption: str) -> dict:
    return {"kind": "img", "uri": uri, "caption": caption}


def _published_table() -> pd.DataFrame:
    from hw.cost import HOROWITZ_2014

    rows = [{"operation": op.operation, "energy_pj": op.energy_pj, "area_um2": op.area_um2, "node": op.node,
             "source": op.source} for op in HOROWITZ_2014.values()]
    return pd.DataFrame(rows)


def _nonlinear_table() -> pd.DataFrame:
    from hw.nonlinear import accuracy_table

    t = accuracy_table(bits=(8,))
    return t[["kernel", "variant", "s_in", "max_abs_err", "mean_abs_err", "max_abs_ref"]]


def _comparisons(frame: pd.DataFrame, metric_cols: list[tuple[str, str, float]]) -> list[dict]:
    out: list[dict] = []
    hw_cols = ["model", "seq_len", "batch", "decode", "hardware", "array_rows", "array_cols", "dataflows",
               "sram_kib", "dram_gbps", "accumulate"]
    for title, rec, base in COMPARISONS:
        out.append(_h3(title))
        out.append(_note(f"Published claim (relayed): {PUBLISHED_CLAIMS[title]}"))
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


def accuracy_statement(manifest: dict, frame: pd.DataFrame) -> str:
    """What the output error on the plots is, where it comes from and what it does not say."""
    acc = manifest.get("accuracy", {}) if isinstance(manifest.get("accuracy"), dict) else {}
    models = ", ".join(sorted(set(frame["model"].astype(str)))) if "model" in frame.columns else "the model"
    if acc.get("checkpoint"):
        from ._spec import CHECKPOINT_METRICS

        metric = acc.get("metric", "?")
        return (f"Accuracy source: output error = {CHECKPOINT_METRICS.get(metric, metric)} from "
                f"sim.evaluate_accuracy of the checkpoint {acc['checkpoint']} on the text {acc.get('text', '?')} "
                f"(lines truncated to {acc.get('max_tokens', '?')} tokens): the whole forward pass, every GEMM on "
                f"the bit-exact golden model in the recipe's formats, against the float64 forward of the same "
                f"checkpoint. Limits: one model and one text, a sentence-embedding or next-token metric, not a "
                f"task accuracy. The synthetic one-layer error (sim.run_layer_numerics, "
                f"{acc.get('tokens', '?')} N(0, 1) tokens, seed {acc.get('seed', '?')}, {models}) is in the "
                f"results as synthetic_output_error.")
    return (f"Accuracy source: output error = ||y - y_ref|| / ||y_ref|| of one {models} layer in numerics mode "
            f"(sim.run_layer_numerics): {acc.get('tokens', '?')} tokens of N(0, 1) activations and seeded random "
            f"weights (seed {acc.get('seed', '?')}), quantized per the recipe on the bit-exact golden models, "
            f"against the same layer in float64. Limits: one layer, synthetic inputs and weights, no task "
            f"metric (perplexity or accuracy on a dataset); it ranks recipes by quantization error, it does "
            f"not predict model quality.")


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
    """Write ``index.html`` and ``plots/`` into ``folder``, in three phases: :func:`_figures`
    (which figures exist, with the reason for each left out), the sections (each a list of
    blocks: paragraphs, notes, tables, plots), and :func:`_render` (the Jinja2 template)."""
    plots = folder / "plots"
    plots.mkdir()
    frame, available, notes, has_error = _figures(frame, manifest)
    sections = [
        _section_summary(frame, manifest),
        _section_units(frame, manifest),
        _section_per_point(frame, available, notes, plots, manifest),
        _section_pareto(frame, manifest, available, has_error, plots),
        {"id": "reproductions", "title": "Reproductions",
         "blocks": _comparisons(frame, list(available) + ([(ERROR[0], "output error", 1.0)] if has_error else []))},
        _section_nonlinear(),
        _section_provenance(frame, manifest),
    ]
    page = _render(title=title, description=manifest.get("description", ""), sections=sections)
    (folder / "index.html").write_text(page, encoding="utf-8")


def _render(**context) -> str:
    """The page from ``templates/report.html.j2`` (autoescaped)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("reports.sweep", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "j2"]), keep_trailing_newline=True)
    return env.get_template("report.html.j2").render(**context)


def _figures(frame: pd.DataFrame, manifest: dict) -> tuple[pd.DataFrame, list, list[str], bool]:
    """Phase 1: (frame with incomplete latencies blanked, available (column, label, scale) cost
    figures, notes saying what is left out and why, whether output error exists)."""
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
    return frame, available, notes, has_error


def _section_summary(frame: pd.DataFrame, manifest: dict) -> dict:
    n_fail = int((frame.status != "ok").sum())
    blocks = [_p(f"{len(frame)} design points, {len(frame) - n_fail} complete, {n_fail} with an error; "
                 f"metrics asked for: {', '.join(manifest.get('metrics', []))}.")]
    for metric, reason in manifest.get("unavailable", {}).items():
        blocks.append(_note(f"Metric {metric}: not available ({reason}); its columns are left out."))
    if n_fail:
        blocks.append(_table(frame.loc[frame.status != "ok", ["label", "error"]]))
    return {"id": "summary", "title": "Summary", "blocks": blocks}


def _section_units(frame: pd.DataFrame, manifest: dict) -> dict:
    blocks = []
    unit_cols = [c for c in ("mac_unit", "weights", "activations", "accumulator") if c in frame.columns]
    unit_cols += [c for c in frame.columns if c.startswith("mac_") and c not in unit_cols and c != "mac_utilisation"]
    if "mac_unit" in unit_cols:
        units = frame[unit_cols].drop_duplicates("mac_unit")
        units = units[[c for c in units.columns if c in ("mac_unit", "weights", "activations", "accumulator")
                       or np.isfinite(pd.to_numeric(units[c], errors="coerce").to_numpy(dtype=float)).any()]]
        blocks.append(_table(units))
        blocks.append(_p("Our figures: the MAC unit's own RTL characterised by hw.cost (45 nm estimates calibrated on "
                         "one published point; see Provenance)."))
    else:
        reason = manifest.get("unavailable", {}).get("area", "area not asked for in this sweep")
        blocks.append(_note(f"Characterised unit figures: not available ({reason})."))
    blocks.append(_p("Published figures they are compared with (relayed, not measured here):"))
    blocks.append(_table(_published_table()))
    return {"id": "units", "title": "Unit cost per format", "blocks": blocks}


def energy_statement(manifest: dict) -> str:
    """What the energy figures include and which stimulus the MAC energy was measured on."""
    if manifest.get("unit_energy", False):
        return ("Energy: DRAM bytes times relayed per-byte figures, SRAM bytes times the per-byte figures of "
                "hw.cost.sram_cost for the hardware's buffers, plus products times the energy per product and "
                "outputs times the energy per output conversion of the recipe's MAC datapath "
                "(hw.cost.datapath_energy: standard cells and OpenSTA power at the hardware's clock, 45 nm "
                "derived, on uniform operand codes, hw.cost.unit_stimulus), the figures lowbit cost --hw and "
                "lowbit simulate use; see Provenance for each figure. Energies in the unit-cost table come from "
                "the generic flow on Gaussian operands (sigma = format max / 4).")
    return ("Energy: DRAM and SRAM only; the MAC array's energy is left out ([units] energy = false in the spec).")


def _section_per_point(frame: pd.DataFrame, available: list, notes: list[str], plots: Path,
                       manifest: dict) -> dict:
    shown = frame[["label", "recipe", "array_rows", "array_cols"]].copy()
    for col, label, scale in available:
        shown[label] = frame[col].astype(float) * scale
    for extra, label in (("cycles", "cycles"), ("mac_utilisation", "MAC utilisation"), (ERROR[0], "output error"),
                         ("output_sqnr_db", "SQNR (dB)")):
        if _usable(frame, extra) is not None:
            shown[label] = frame[extra].astype(float)
    if "cycles" in shown.columns:
        shown["cycles"] = np.ceil(shown["cycles"]).astype("Int64")  # whole cycles
    shown["status"] = frame["status"]
    blocks = [_table(shown), *(_note(n) for n in notes)]
    if any(col == "energy_pj" for col, _, _ in available):
        blocks.append(_p(energy_statement(manifest)))
    for col, label, scale in available:
        blocks.append(_img(_bar_plot(frame, col, label, scale, plots), f"{label} per design point"))
    return {"id": "per-point", "title": "Latency, energy and area per design point", "blocks": blocks}


def _section_pareto(frame: pd.DataFrame, manifest: dict, available: list, has_error: bool, plots: Path) -> dict:
    blocks: list[dict] = []
    if not (has_error and available):
        blocks.append(_note("No Pareto front: it needs output error and at least one cost figure."))
        return {"id": "pareto", "title": "Pareto fronts: cost against output error", "blocks": blocks}
    blocks.append(_p("Each recipe (number format) has its own colour and marker; every point is labelled with the "
                     "rest of its design point (array size and the other axes that vary); the dashed line joins "
                     "the points no other point beats on both cost and error (outlined markers)."))
    blocks.append(_note(accuracy_statement(manifest, frame)))
    groups = list(frame.groupby(WORKLOAD, sort=False))
    if len(groups) > 1:
        blocks.append(_p("One front per workload (a cost is comparable only on the same model and tokens)."))
    for key, grp in groups:
        workload = f"{key[0]}, {key[1]} tokens, batch {key[2]}" + (f", {key[3]} decode steps" if key[3] else "")
        stem = "" if len(groups) == 1 else "_" + "_".join(str(k) for k in key)
        if len(groups) > 1:
            blocks.append(_h3(workload))
        for col, label, scale in available:
            if _usable(grp, col) is None or _usable(grp, ERROR[0]) is None:
                continue
            name, svg, front = _pareto_plot(grp, col, label, scale, plots, workload, stem)
            blocks.append({"kind": "svg", "id": name, "svg": svg,
                           "caption": f"{label} vs output error ({workload}); every point labelled, front outlined"})
            blocks.append(_table(front))
        for col, label, scale in available:
            if col == "array_area_mm2":
                continue
            eq = _equal_area_plot(grp, col, label, scale, plots, workload, stem)
            if eq is not None:
                blocks.append({"kind": "svg", "id": eq[0], "svg": eq[1],
                               "caption": f"{label} against MAC array area per recipe ({workload}): formats compared "
                                          f"at equal area along a vertical line"})
    return {"id": "pareto", "title": "Pareto fronts: cost against output error", "blocks": blocks}


def _section_nonlinear() -> dict:
    nl = _nonlinear_table()
    return {"id": "nonlinear", "title": "Nonlinear units: accuracy of the integer kernels", "blocks": [
        _p("Shift-add / integer GELU, softmax and LayerNorm kernels (the I-BERT recipe's nonlinear units) against "
           "float64, 8-bit inputs, per input scale s_in; errors in real output units. Measured: "
           "hw.nonlinear.accuracy_table (bit-exact golden models), seed 0."),
        _table(nl)]}


def _section_provenance(frame: pd.DataFrame, manifest: dict) -> dict:
    blocks: list[dict] = []
    for c in [c for c in frame.columns if c.endswith("_provenance")]:
        blocks.append(_h3(c.replace("_provenance", "")))
        blocks.append({"kind": "list", "items": sorted({v for v in frame[c].astype(str) if v})})
    blocks.append(_h3("Tools and code"))
    for t in (sorted(set(frame["tool_versions"])) if "tool_versions" in frame.columns else []):
        blocks.append({"kind": "code", "text": t})
    if "code_sha256" in frame.columns:
        for t in sorted(set(frame["code_sha256"])):
            blocks.append({"kind": "code", "text": f"source hashes: {t}"})
    keys = frame[["label", "cache_key"] + (["rtl_sha256"] if "rtl_sha256" in frame.columns else [])].copy()
    blocks.append(_p("Cache key of every point (hash of its descriptor, the RTL it generates and the tool versions):"))
    blocks.append(_table(keys))
    run = manifest.get("run", {})
    blocks.append(_p(f"Sweep spec {manifest.get('spec', '')} (sweep id {manifest.get('sweep_id', '?')}); last run: "
                     f"{run.get('computed', '?')} computed, {run.get('cached', '?')} cached, "
                     f"{run.get('failed', '?')} failed."))
    return {"id": "provenance", "title": "Provenance", "blocks": blocks}
