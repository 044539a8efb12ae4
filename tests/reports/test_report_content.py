"""What the report shows and leaves out: a metric whose source has not landed (or was not asked
for) has no column, no plot and a note saying why; the Pareto front table lists exactly the
non-dominated points; the page references nothing outside itself."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from reports.sweep import _sources, pareto_front, run_sweep, spec_from_dict, write_report


@pytest.fixture(scope="module")
def missing_area_report(tmp_path_factory):
    """A sweep asking for area while the area source reports itself unavailable (as a source
    whose tools are missing does)."""
    base = tmp_path_factory.mktemp("missing")
    mp = pytest.MonkeyPatch()
    mp.setattr(_sources.UnitCostSource, "status", lambda self: "hw.units.build_mac not landed")
    try:
        spec = spec_from_dict({"name": "missing", "metrics": ["latency", "area", "accuracy"], "layers": 1,
                               "axes": {"recipe": ["INT8", "FP16", "MXFP4"], "seq_len": 32, "array": ["8x8", "16x16"]}})
        res = run_sweep(spec, base / "results", workers=1, cache=base / "cache", progress=False)
    finally:
        mp.undo()
    page = write_report(base / "results", base / "report")
    return res, page


def test_missing_source_stays_out(missing_area_report) -> None:
    res, page = missing_area_report
    assert res.unavailable == {"area": "hw.units.build_mac not landed"}
    assert not any(c.startswith("mac_") and c != "mac_utilisation" for c in res.frame.columns)
    assert "array_area_mm2" not in res.frame.columns
    html = page.read_text()
    assert "Metric area: not available (hw.units.build_mac not landed); its columns are left out." in html
    plots = {p.name for p in (page.parent / "plots").iterdir()}
    assert not any("area" in p or "energy" in p for p in plots)
    assert {"pareto_latency_s.png", "pareto_latency_s.svg", "bars_latency_s.png"} <= plots


def test_pareto_table_lists_the_front(missing_area_report) -> None:
    res, page = missing_area_report
    f = res.frame
    want = set(f.loc[pareto_front(f["latency_s"].to_numpy(), f["output_error"].to_numpy()), "label"])
    front = pd.read_csv(page.parent / "plots" / "pareto_latency_s.csv")
    assert list(front.columns) == ["label", "latency (ms)", "output error"]
    assert set(front["label"]) == want
    assert all(f"<td>{lab}</td>" in page.read_text() for lab in want)
    # every listed point is undominated among all points
    for lab in want:
        r = f[f.label == lab].iloc[0]
        better = (f.latency_s <= r.latency_s) & (f.output_error <= r.output_error) & \
                 ((f.latency_s < r.latency_s) | (f.output_error < r.output_error))
        assert not better.any()


def test_page_is_self_contained(missing_area_report) -> None:
    _, page = missing_area_report
    html = page.read_text()
    srcs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert srcs and all(s.startswith(("data:", "#")) for s in srcs)  # "#id": a reference inside an inline SVG
    assert not re.search(r"https?://", html)


def test_equal_area_plot_has_one_series_per_format_and_every_point_labelled(tmp_path) -> None:
    """With MAC array areas and several array sizes, latency is also plotted against area, one
    line per recipe, so formats are compared at equal area; every point carries its label."""
    from reports.sweep._report import _equal_area_plot

    rows = [{"recipe": r, "label": f"{r} {n}x{n}", "array_rows": n, "array_cols": n,
             "array_area_mm2": a * n * n / 1e6, "latency_s": 1e-3 * 256 / (n * n)}
            for r, a in (("INT8", 300.0), ("FP8", 450.0)) for n in (8, 16)]
    frame = pd.DataFrame(rows)
    name, svg = _equal_area_plot(frame, "latency_s", "latency (ms)", 1e3, tmp_path)
    assert name == "area_latency_s" and (tmp_path / "area_latency_s.svg").is_file()
    labels = re.findall(r'<g id="area-label-(\d+)">', svg)
    assert sorted(map(int, labels)) == [0, 1, 2, 3]
    assert svg.count("8x8") == 2 and svg.count("16x16") == 2  # labels without the recipe, kept as text
    assert '<g id="plot-legend">' in svg and "INT8" in svg and "FP8" in svg
    # one array size only: no equal-area plot
    assert _equal_area_plot(frame[frame.array_rows == 8], "latency_s", "latency (ms)", 1e3, tmp_path) is None
