"""Several cores (sim._cores): one core equals the single-core engine exactly; with unlimited
bandwidth each core takes its part's step cycles; the shared DRAM port is contended."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from mapping import GemmOp, VectorOp, layer_ops, load_model, map_op, parse_recipe, steps_of
from sim import PRESETS, simulate, simulate_op, step_timing
from sim._cores import run_cores, split_op
from sim._engine import run_steps

HW = PRESETS["default-32x32"]
UNLIMITED = replace(HW, dram_gbps_per_channel=math.inf, dram_latency_ns=0.0)
INT8 = parse_recipe("INT8")
OPS = [GemmOp("q", 64, 512, 768), GemmOp("qk", 64, 64, 64, count=12, a_role="activation", b_role="kv",
                                             b_shared=False),
       GemmOp("v", 1, 4096, 4096), VectorOp("softmax", "softmax", 96, 200, in_role="accumulator"),
       VectorOp("residual", "add", 300, 512, inputs=2)]
FIELDS = ("cycles", "compute_cycles", "stall_input", "stall_output", "stall_drain", "dram_read_bytes",
          "dram_write_bytes", "dram_busy_cycles", "array_fill", "array_steady", "array_drain", "array_weight_load",
          "steps")


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
def test_one_core_equals_the_single_core_engine(op):
    timing = step_timing(HW, INT8)
    mp, multi, _ = run_cores(op, INT8, HW, timing)
    mp1 = map_op(op, INT8, HW.limits(), timing.array_cycles)
    single = run_steps(steps_of(mp1), HW, timing, dataflow=getattr(mp1, "dataflow", "ws"))
    for f in FIELDS:
        assert getattr(multi, f) == getattr(single, f), f
    assert mp == mp1


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
@pytest.mark.parametrize("cores", [2, 3, 8])
@pytest.mark.parametrize("array", [None, (32, 32)])
def test_parts_cover_the_op(op, cores, array):
    parts = split_op(op, cores, array)
    assert 1 <= len(parts) <= cores
    if isinstance(op, GemmOp):
        assert sum(p.macs for p in parts) == op.macs
        sizes = [p.count if op.count >= cores else p.N for p in parts]
    else:
        assert sum(p.rows for p in parts) == op.rows
        sizes = [p.rows for p in parts]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
def test_unlimited_bandwidth_cores_take_their_parts_step_cycles(op):
    hw = replace(UNLIMITED, cores=4)
    timing = step_timing(hw, INT8)
    _, run, _ = run_cores(op, INT8, hw, timing)
    expect = []
    for part in split_op(op, 4, (32, 32)):  # independent of the engine: sum of the step durations of each part
        mp = map_op(part, INT8, hw.limits(), timing.array_cycles)
        steps = steps_of(mp)
        df = getattr(mp, "dataflow", "ws")
        tail = timing.tail_cycles(df) if steps[-1].work[0] == "gemm" else 0
        expect.append(sum(timing.step_cycles(s.work, df) for s in steps) + tail)
    assert run.cycles == max(expect)


def test_shared_dram_is_contended():
    # a memory-bound op split over 4 cores is not 4x faster: all bytes cross one port
    slow = replace(HW, dram_channels=1, dram_gbps_per_channel=1.0)
    op = VectorOp("residual", "add", 512, 512, inputs=2)
    _, one = simulate_op(op, parse_recipe("FP16"), slow)
    _, four = simulate_op(op, parse_recipe("FP16"), replace(slow, cores=4))
    nbytes = four.dram_read_bytes + four.dram_write_bytes
    assert nbytes == one.dram_read_bytes + one.dram_write_bytes == 3 * 512 * 512 * 2
    assert four.dram_busy_cycles == pytest.approx(nbytes / slow.dram_bytes_per_cycle)
    assert nbytes / slow.dram_bytes_per_cycle <= four.cycles <= one.cycles


def test_one_core_config_equals_single_core_simulation():
    a = simulate("gpt2", "W4A8", HW, prefill=32, decode=2, layers=2)
    b = simulate("gpt2", "W4A8", replace(HW, cores=1), prefill=32, decode=2, layers=2)
    assert a.summary["cycles"] == b.summary["cycles"]
    assert a.ops["cycles"].tolist() == b.ops["cycles"].tolist()


def test_summary_figures_follow_the_per_op_table():
    res = simulate("gpt2", "INT8", replace(HW, cores=2), prefill=64, decode=2, layers=2)
    s, ops = res.summary, res.ops
    assert s["peak_macs_per_cycle"] == 2 * 32 * 32 and s["cores"] == 2
    assert s["total_cycles"] == s["cycles"] == ops.total_cycles.sum()
    assert s["macs"] == (ops.macs * ops.layers).sum()
    pre, dec = s["phases"]["prefill"], s["phases"]["decode"]
    assert pre["cycles"] + dec["cycles"] == pytest.approx(s["cycles"])
    assert pre["macs"] + dec["macs"] == s["macs"]
    assert pre["dram_read_bytes"] + dec["dram_read_bytes"] == s["dram_read_bytes"]
    assert s["mac_utilisation"] == pytest.approx(s["macs"] / (2 * 32 * 32 * s["cycles"]))
    assert dec["steps"] == 2 and pre["steps"] == 1
    model = load_model("gpt2")
    macs = sum(op.macs for op in layer_ops(model, tokens=64, past=0) if isinstance(op, GemmOp)) * 2
    assert pre["macs"] == macs  # layers=2: model ops left out


def test_cli_cores_override_and_json_summary(tmp_path, capsys):
    from reports.cli import main

    out = tmp_path / "s.json"
    assert main(["simulate", "--model", "gpt2", "--recipe", "INT8", "--hw", "default-32x32", "--cores", "3",
                 "--prefill", "32", "--decode", "2", "--layers", "1", "--json", str(out), "--no-progress",
                 "--no-energy"]) == 0
    assert "3 cores x 32x32 array" in capsys.readouterr().out
    s = json.loads(out.read_text())["summary"]
    for key in ("total_cycles", "seconds", "macs", "peak_macs_per_cycle", "dram_read_bytes", "dram_write_bytes",
                "dram_bytes_per_cycle", "energy_pj", "energy_breakdown_pj", "phases", "notes"):
        assert key in s, key
    assert s["peak_macs_per_cycle"] == 3 * 32 * 32
    assert s["seconds"] == pytest.approx(s["total_cycles"] / 1e9)
    assert s["dram_bytes_per_cycle"] == PRESETS["default-32x32"].dram_bytes_per_cycle
    assert set(s["phases"]) == {"prefill", "decode"}
    assert s["energy_breakdown_pj"]["dram"] == pytest.approx(s["energy_dram_pj"])
    assert main(["simulate", "--model", "gpt2", "--recipe", "INT8", "--cores", "0", "--no-energy"]) == 2
    assert capsys.readouterr().err == "lowbit: error: hardware field cores must be an integer in 1..1024, not 0\n"


def test_grid_counts_array_folds():
    # 256 x 12288 outputs over 108 cores of a 32x32 array: the grid using every core with the
    # least traffic (2 x 54: parts of 128 x 228, 4 x 8 array passes) is beaten by the grid whose
    # largest part needs the fewest passes, the minimum over all grids (counted here)
    op = GemmOp("g", 256, 1024, 12288)
    plain = split_op(op, 108)
    aware = split_op(op, 108, (32, 32))
    folds = lambda ps: max(math.ceil(p.M / 32) * math.ceil(p.N / 32) for p in ps)  # noqa: E731
    assert folds(plain) == 32 and folds(aware) < folds(plain)
    assert min(math.ceil(math.ceil(256 / gm) / 32) * math.ceil(math.ceil(12288 / gn) / 32)
               for gm in range(1, 109) for gn in range(1, 108 // gm + 1)) == folds(aware)


def test_joined_and_runs_equal_the_copied_lists():
    """gb_schedules' per-core steps (``Joined``) and dataflows (``Runs``) read like the lists
    they replace (the concatenation, the value repeated per step): items, negative indices,
    slices, iteration, length, out-of-range errors."""
    from sim._cores import Joined, Runs

    lists = [[1, 2, 3], [], [4], [5, 6]]
    flat = [x for x in lists for x in x]
    j = Joined(lists)
    assert len(j) == len(flat) and list(j) == flat
    assert [j[t] for t in range(-len(flat), len(flat))] == flat + flat
    assert j[1:5] == flat[1:5] and j[:-1] == flat[:-1] and j[::2] == flat[::2]
    runs = [("ws", 2), ("os", 0), ("is", 3)]
    ref = [v for v, k in runs for _ in range(k)]
    r = Runs(runs)
    assert len(r) == 5 and list(r) == ref and r[-1] == "is" and r[1:4] == ref[1:4]
    for seq, n in ((j, len(flat)), (r, 5)):
        with pytest.raises(IndexError):
            seq[n]
        with pytest.raises(IndexError):
            seq[-n - 1]
