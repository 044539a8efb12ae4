"""Sweeps end to end on a local Dask cluster: the results table (checked against direct calls of
the simulator and numerics mode), CSV/Parquet files, a second run served entirely from the
cache, a failing point recorded without stopping the others, and a sweep killed with SIGKILL
mid-way then resumed giving exactly the results of an uninterrupted run."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports.sweep import ResultCache, load_spec, pareto_front, run_sweep, spec_from_dict
from sim import simulate
from sim._numerics import run_layer_numerics

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "sweep_small.toml"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The small example swept once on a fresh cache (one in-process Dask worker), then again."""
    base = tmp_path_factory.mktemp("small")
    # MAC energy off here (FP16's wide MAC takes minutes to characterise cold); energy by default
    # is tested on INT8 in test_energy_is_part_of_a_sweep_by_default
    spec = dataclasses.replace(load_spec(SMALL), unit_energy=False)
    first = run_sweep(spec, base / "out", workers=1, cache=base / "cache", progress=False)
    second = run_sweep(spec, base / "out2", workers=1, cache=base / "cache", progress=False)
    return spec, first, second, base


def test_results_table_one_row_per_point_with_provenance(small_run) -> None:
    spec, first, _, base = small_run
    f = first.frame
    assert len(f) == len(spec.points) == 8 and list(f["point"]) == list(range(8))
    assert (f["status"] == "ok").all(), f["error"].tolist()
    for col in ("cycles", "latency_s", "output_error", "cache_key", "tool_versions", "code_sha256",
                "latency_provenance", "accuracy_provenance", "energy_provenance"):
        assert col in f.columns
    assert f["cache_key"].is_unique
    assert all(p.startswith("measured: sim.simulate") for p in f["latency_provenance"])
    assert json.loads(f["tool_versions"][0])["numpy"] == np.__version__
    # files: CSV and Parquet hold the same table; the manifest is written
    parquet = pd.read_parquet(base / "out" / "results.parquet")
    pd.testing.assert_frame_equal(parquet, f, check_dtype=False)
    csv = pd.read_csv(base / "out" / "results.csv")
    assert list(csv.columns) == list(f.columns) and np.allclose(csv["cycles"], f["cycles"])
    manifest = json.loads((base / "out" / "sweep.json").read_text())
    assert manifest["points"] == 8 and manifest["run"]["computed"] == 8


def test_figures_equal_direct_calls_of_their_sources(small_run) -> None:
    """The sweep's plumbing (spec, cache, Dask, JSON) changes no figure."""
    spec, first, _, _ = small_run
    f = first.frame
    for i in (0, 5):
        p = spec.points[i]
        res = simulate(p.model, p.recipe_obj(), p.hardware_config(), prefill=p.seq_len, layers=1)
        assert f.loc[i, "cycles"] == res.summary["cycles"]
        assert f.loc[i, "latency_s"] == res.summary["seconds"]
        num = run_layer_numerics(p.model, p.recipe_obj(), tokens=spec.accuracy.tokens, seed=spec.accuracy.seed)
        assert f.loc[i, "output_error"] == num.rel_rms_error
    # accuracy does not depend on the array: both array sizes of a recipe share one entry
    for rec, grp in f.groupby("recipe"):
        assert grp["output_error"].nunique() == 1
    # a bigger array is not slower on the same recipe
    for rec, grp in f.groupby("recipe"):
        assert grp.loc[grp.array_rows == 32, "cycles"].iloc[0] < grp.loc[grp.array_rows == 16, "cycles"].iloc[0]


def test_second_run_hits_the_cache_for_every_point(small_run) -> None:
    _, first, second, _ = small_run
    assert (second.computed, second.cached, second.failed) == (0, 8, 0)
    assert (second.evaluations_computed, second.evaluations_cached) == (0, 12)
    pd.testing.assert_frame_equal(second.frame, first.frame)


def test_energy_is_part_of_a_sweep_by_default(tmp_path) -> None:
    """Without [units], the sweep's energy includes the MAC array: the recipe's datapath energies
    from sim.datapath_energy_of (hw.cost.datapath_energy, uniform operands, as lowbit cost --hw and
    lowbit simulate), the figure sim.simulate gives with them."""
    from sim import datapath_energy_of

    spec = spec_from_dict({"metrics": ["latency", "energy"], "layers": 1,  # 500 MHz: met by the INT8 MAC
                           "axes": {"recipe": "INT8", "seq_len": 16, "array": "8x8", "hardware": "edge-16x16"}})
    assert spec.unit_energy
    f = run_sweep(spec, tmp_path / "res", workers=1, cache=tmp_path / "cache", progress=False).frame
    assert (f.status == "ok").all(), f.error.tolist()
    from reports.sweep import write_report
    from reports.sweep._report import energy_statement

    page = write_report(tmp_path / "res", tmp_path / "rep").read_text()
    statement = energy_statement({"unit_energy": True})
    from markupsafe import escape

    assert "on uniform operand codes, hw.cost.unit_stimulus" in statement
    assert str(escape(statement)) in page
    p = spec.points[0]
    rec = datapath_energy_of(p.hardware_config(), p.recipe_obj())
    direct = simulate(p.model, p.recipe_obj(), p.hardware_config(), prefill=p.seq_len, layers=1, mac_cost=rec)
    assert math.isfinite(f.loc[0, "energy_pj"]) and f.loc[0, "energy_pj"] == direct.summary["energy_pj"]
    assert f.loc[0, "energy_provenance"].startswith("derived: ")
    assert "stimulus: uniform operands" in f.loc[0, "energy_provenance"]


def test_failing_point_is_recorded_and_does_not_stop_the_others(tmp_path) -> None:
    spec = spec_from_dict({"name": "fail", "metrics": ["latency"], "layers": 1,
                           "axes": {"recipe": "INT8", "seq_len": 32},
                           "point": [{"sram_kib": 4}, {"array": "8x8"}]})
    res = run_sweep(spec, tmp_path / "out", workers=1, cache=tmp_path / "cache", progress=False)
    f = res.frame
    assert list(f["status"]) == ["failed", "ok"] and res.failed == 1
    row_bytes = 2 * 768 * 2  # two rows of d_model float16 values (the nonlinear unit's I/O format)
    assert f.loc[0, "error"] == ("latency/energy: MappingError: SRAM buffer 'v' must hold two rows of attn_norm "
                                 f"({row_bytes} bytes), not 1024 bytes")
    assert math.isnan(f.loc[0, "cycles"]) and f.loc[1, "cycles"] > 0
    assert (tmp_path / "out" / "sweep.json").is_file()
    again = run_sweep(spec, None, workers=1, cache=tmp_path / "cache", progress=False)
    assert again.cached == 2 and again.failed == 1  # a deterministic failure is cached like a result


def test_corrupt_cache_entry_is_recomputed(tmp_path) -> None:
    spec = spec_from_dict({"metrics": ["latency"], "layers": 1, "axes": {"recipe": "INT8", "seq_len": 16,
                                                                         "array": "8x8"}})
    first = run_sweep(spec, None, workers=1, cache=tmp_path, progress=False)
    entries = list((tmp_path / "points").rglob("*.json"))
    assert len(entries) == 1
    entries[0].write_text(entries[0].read_text().replace('"cycles":', '"cycles": 1.0, "x":', 1))
    assert ResultCache(tmp_path).get(entries[0].stem) is None  # checksum mismatch: treated as absent
    again = run_sweep(spec, None, workers=1, cache=tmp_path, progress=False)
    assert again.computed == 1
    pd.testing.assert_frame_equal(again.frame, first.frame)


KILL_SPEC = """
name = "kill"
metrics = ["latency", "accuracy"]
layers = 1
[axes]
model = "bert-base"
seq_len = 128
recipe = ["INT8", "FP8", "FP16"]
array = ["16x16", "32x32"]
"""


def test_kill_and_resume_gives_the_uninterrupted_results(tmp_path) -> None:
    spec_path = tmp_path / "kill.toml"
    spec_path.write_text(KILL_SPEC)
    cache, out = tmp_path / "cache", tmp_path / "out"
    argv = [sys.executable, "-m", "reports.cli", "sweep", str(spec_path), "-o", str(out), "--cache", str(cache),
            "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    total = 6 + 3  # simulator entries + accuracy entries (shared by the two arrays of a recipe)
    deadline = time.monotonic() + 180
    n = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            n = len(list((cache / "points").rglob("*.json"))) if cache.exists() else 0
            if n >= 3:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    assert 3 <= n < total, n
    assert not (out / "sweep.json").exists()  # not left behind as if complete
    spec = load_spec(spec_path)
    resumed = run_sweep(spec, out, workers=1, cache=cache, progress=False)
    # what had arrived before the kill is reused, the rest computed: nothing lost, nothing twice
    assert resumed.evaluations_cached >= n and resumed.evaluations_computed >= 1
    assert resumed.evaluations_cached + resumed.evaluations_computed == total
    uninterrupted = run_sweep(spec, tmp_path / "ref", workers=1, cache=tmp_path / "ref_cache", progress=False)
    assert uninterrupted.evaluations_computed == total
    pd.testing.assert_frame_equal(resumed.frame, uninterrupted.frame)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"),
                                  pd.read_parquet(tmp_path / "ref" / "results.parquet"))
    assert (out / "results.csv").read_bytes() == (tmp_path / "ref" / "results.csv").read_bytes()


def test_pareto_front_matches_the_definition() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(1, 30))
        cost = rng.integers(0, 8, n).astype(float)
        err = rng.integers(0, 8, n).astype(float)
        front = set(pareto_front(cost, err).tolist())
        dominated = {i for i in range(n) for j in range(n)
                     if cost[j] <= cost[i] and err[j] <= err[i] and (cost[j] < cost[i] or err[j] < err[i])}
        undominated = set(range(n)) - dominated
        # every front point is undominated; every undominated (cost, err) pair is represented once
        assert front <= undominated
        assert {(cost[i], err[i]) for i in front} == {(cost[i], err[i]) for i in undominated}


def test_demo_report_shares_the_small_sweeps_cache(small_run, tmp_path) -> None:
    from reports.sweep import demo_spec, run_demo_report

    _, first, _, base = small_run
    page = run_demo_report(tmp_path / "demo", cache=base / "cache")
    assert page == tmp_path / "demo" / "report" / "index.html" and page.is_file()
    demo = pd.read_parquet(tmp_path / "demo" / "sweep" / "results.parquet")
    manifest = json.loads((tmp_path / "demo" / "sweep" / "sweep.json").read_text())
    # the accuracy evaluations are the small sweep's; the simulator ones add the MAC energy
    assert manifest["run"]["evaluations_cached"] == 3 and len(demo) == len(demo_spec().points) == 3
    assert demo["energy_provenance"].str.startswith("derived: ").all()
    same = first.frame[(first.frame.array_rows == 32) & (first.frame.recipe != "FP16")].reset_index(drop=True)
    assert list(demo["output_error"]) == list(same["output_error"])
    # the demo prices energy on standard cells, so a row unit whose Fmax is below the clock is timed
    # at the pipeline depth that meets it, or as a multicycle path when none does (sim._timing,
    # named in the timing sources); the small sweep (no MAC energy) times every unit at depth 0, one
    # unit cycle per clock: equal cycles with neither, never fewer with a depth, more with a multicycle
    prov = demo["latency_provenance"]
    multi = prov.str.contains("clock cycles per unit cycle (multicycle", regex=False)
    piped = prov.str.contains(r", pipeline \d+: ", regex=True)
    assert (demo["cycles"][~multi & ~piped] == same["cycles"][~multi & ~piped]).all()
    assert (demo["cycles"][piped] >= same["cycles"][piped]).all()
    assert (demo["cycles"][multi] > same["cycles"][multi]).all()
    assert page.read_text().count("<img ") >= 1 and page.read_text().count('<figure class="plot"') >= 1


def test_runs_on_an_existing_scheduler(tmp_path) -> None:
    from dask.distributed import LocalCluster

    spec = spec_from_dict({"metrics": ["latency"], "layers": 1,
                           "axes": {"recipe": ["INT8", "FP8"], "seq_len": 16, "array": "8x8"}})
    local = run_sweep(spec, None, workers=1, cache=tmp_path / "a", progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        remote = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address, cache=tmp_path / "b",
                           progress=False)
    assert remote.computed == 2
    pd.testing.assert_frame_equal(remote.frame, local.frame)


@pytest.mark.slow
def test_area_and_energy_equal_direct_characterisation(tmp_path) -> None:
    """The area and energy columns are the cost model's and simulator's own figures (slow on a
    cold hw.cost cache: yosys synthesis and a Verilator gate-level run of the MAC)."""
    from reports.sweep import UnitCostSource

    assert UnitCostSource().status() is None, f"area source not available: {UnitCostSource().status()}"
    from hw.cost import characterize, unit_stimulus
    from hw.units import build_mac

    spec = spec_from_dict({"metrics": ["latency", "energy", "area"], "layers": 1, "units": {"energy": True},
                           "axes": {"recipe": "INT8", "seq_len": 32, "array": ["8x8", "16x16"]}})
    res = run_sweep(spec, None, workers=1, cache=tmp_path, progress=False)
    f = res.frame
    assert (f.status == "ok").all(), f.error.tolist()
    unit = build_mac(a="int8", b="int8", acc="exact", out="float32")
    rec = characterize(unit, stimulus=unit_stimulus(unit.metadata, distribution="gaussian"), fpga=())
    assert list(f["array_area_mm2"]) == [rec.area_um2 * 64 / 1e6, rec.area_um2 * 256 / 1e6]
    assert list(f["mac_energy_pj_per_op"]) == [rec.energy_pj_per_op] * 2
    for i, p in enumerate(spec.points):
        direct = simulate(p.model, p.recipe_obj(), p.hardware_config(), prefill=p.seq_len, layers=1, mac_cost=rec)
        assert f.loc[i, "energy_pj"] == direct.summary["energy_pj"]
    assert f.loc[0, "rtl_sha256"] == rec.provenance.measured["verilog_sha256"]
