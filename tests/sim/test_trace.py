"""The Perfetto trace (sim._trace), parsed back from the written JSON: a process per core with
array, vector, stall and one track per DMA engine; a memory process with the DRAM and global
buffer ports; the op track covers the whole run and names the layers that repeat the drawn one;
the DMA and DRAM tracks carry every byte the per-op table says was moved; with ops chained
(sim._overlap) and several layers, the drawn layer holds exactly its chain's engine events at the
chain's times (spans that ran concurrently, within an op or across ops, stay concurrent)."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import replace

import pytest

from mapping import layer_ops, load_model, parse_recipe
from sim import PRESETS, simulate, step_timing, write_result_trace
from sim._fusion import plan_phase
from sim._run import simulate_chain

BASE = replace(PRESETS["default-32x32"], cores=3)
GB = replace(BASE, gb_kib=2048, gb_gbps=256.0)


def _trace(tmp_path, hw, layers=3, decode=2):
    res = simulate("gpt2", "INT8", hw, prefill=48, decode=decode, layers=layers, trace=True)
    p = tmp_path / "t.json"
    write_result_trace(res, p, hw)
    tr = json.loads(p.read_text())["traceEvents"]
    procs = {e["pid"]: e["args"]["name"] for e in tr if e["ph"] == "M" and e["name"] == "process_name"}
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in tr if e["ph"] == "M" and e["name"] == "thread_name"}
    spans = defaultdict(list)
    for e in tr:
        if e["ph"] == "X":
            spans[(procs[e["pid"]], threads[(e["pid"], e["tid"])])].append(e)
    return res, procs, spans


@pytest.mark.parametrize("hw", [BASE, GB], ids=["no-gb", "gb"])
def test_one_process_per_core_with_its_units_and_dma_engines(tmp_path, hw):
    res, procs, spans = _trace(tmp_path, hw)
    assert {"core 0", "core 1", "core 2", "memory"} <= set(procs.values())
    for c in range(3):
        names = {t for p, t in spans if p == f"core {c}"}
        assert {"array", "vector"} <= names
        dma = {t for t in names if t.startswith("dma ")}
        assert dma and dma <= {f"dma {i}" for i in range(hw.dma_engines)}
    for (proc, thread), evs in spans.items():  # one engine holds one transfer at a time
        if thread.startswith("dma "):
            evs = sorted(evs, key=lambda e: e["ts"])
            for a, b in zip(evs, evs[1:]):
                assert a["ts"] + a["dur"] <= b["ts"] + 1e-6, (proc, thread)


def test_dma_and_dram_tracks_carry_every_byte_without_a_global_buffer(tmp_path):
    res, _, spans = _trace(tmp_path, BASE)
    moved = int((res.ops.dram_read_bytes + res.ops.dram_write_bytes).sum())  # each op row drawn once
    dma = sum(e["args"]["bytes"] for (p, t), evs in spans.items() if t.startswith("dma ") for e in evs
              if "args" in e)
    dram = sum(e["args"]["bytes"] for e in spans[("memory", "dram")])
    assert moved > 0 and dma == dram == moved


def test_with_a_global_buffer_dram_track_has_the_fills_and_the_buffer_port_is_drawn(tmp_path):
    res, _, spans = _trace(tmp_path, GB)
    moved = int((res.ops.dram_read_bytes + res.ops.dram_write_bytes).sum())
    assert sum(e["args"]["bytes"] for e in spans[("memory", "dram")]) == moved
    assert any(e["name"].startswith("fill ") for e in spans[("memory", "dram")])
    assert spans[("memory", "global buffer")]
    for c in range(3):
        assert any(t.startswith("dma ") and evs for (p, t), evs in spans.items() if p == f"core {c}")


@pytest.mark.parametrize("hw", [BASE, GB], ids=["no-gb", "gb"])
def test_op_track_covers_the_run_and_names_the_repeated_layers(tmp_path, hw):
    res, procs, spans = _trace(tmp_path, hw)
    ops = sorted(spans[(f"lowbit {hw.name}: ops", "op")], key=lambda e: e["ts"])
    us = 1.0 / hw.clock_mhz
    # back to back from 0 to the simulated end: nothing left undrawn
    assert ops[0]["ts"] == 0
    for a, b in zip(ops, ops[1:]):
        assert b["ts"] == pytest.approx(a["ts"] + a["dur"])
    assert ops[-1]["ts"] + ops[-1]["dur"] == pytest.approx(res.summary["cycles"] * us)
    repeats = [e for e in ops if "repeats_of" in e.get("args", {})]
    layer_rows = res.ops[res.ops.layers > 1]  # one layer of each phase step drawn, then its repeats
    steps = layer_rows.groupby(["phase", "step"], sort=False)
    assert len(repeats) == steps.ngroups == 3
    assert all(e["args"]["layers"] == "2..3" for e in repeats)
    for e, (_, rows) in zip(repeats, steps):
        assert e["args"]["ops"] == list(rows.op)
        assert e["args"]["cycles_each"] == pytest.approx(rows.cycles.sum())
        assert e["dur"] == pytest.approx(2 * rows.cycles.sum() * us)
    drawn = [e for e in ops if e.get("args", {}).get("drawn")]
    assert len(drawn) == len(res.ops)


# ---- chained ops (sim._overlap) over several layers -------------------------------------------------
FUSED = replace(BASE, fusion=True)  # fused attention: its softmax on the vector unit beside the array's QK


def _track_kind(proc: str, thread: str) -> str:
    """The engine event's block a trace track draws."""
    return {"dram": "dram", "global buffer": "gb"}[thread] if proc == "memory" else thread.split(" ")[0]


def _overlapping(a: list, b: list) -> int:
    """How many (x in a, y in b) pairs of (t0, dt) spans overlap in time (more than 1e-6)."""
    return sum(1 for x in a for y in b if x[0] < y[0] + y[1] - 1e-6 and y[0] < x[0] + x[1] - 1e-6)


def test_a_chained_layer_is_drawn_at_its_chain_times_and_layers_2_to_n_are_named_repeats(tmp_path):
    hw = FUSED
    res, procs, spans = _trace(tmp_path, hw, layers=3, decode=0)
    assert res.summary["overlap"]
    us = 1.0 / hw.clock_mhz
    # the prefill layer's chain simulated alone, its events at chain times (each op's events are
    # relative to where its cycles start, which is the sum of the cycles before it)
    model, recipe = load_model("gpt2"), parse_recipe("INT8")
    planned = plan_phase([("layer", op) for op in layer_ops(model, tokens=48, past=0, batch=1)], model, recipe,
                         hw, tokens=48, past=0, batch=1)
    chain = simulate_chain([(op, r) for _, op, r in planned], recipe, hw, step_timing(hw, recipe), trace=True)
    ref, start = [], 0.0
    for i, (_, run) in enumerate(chain):
        ref += [(e[0], start + e[2], e[3], i, e[4] if len(e) > 4 else 0) for e in run.events]
        start += run.cycles
    layer = start
    assert layer * 3 == pytest.approx(res.summary["cycles"])  # 3 layers, no model ops, no decode
    drawn = [(_track_kind(p, t), e["ts"] / us, e["dur"] / us, p) for (p, t), evs in spans.items()
             if not p.startswith("lowbit") for e in evs]
    # layer 1 holds exactly the chain's events at the chain's times; layers 2..3 draw nothing
    assert all(t0 + dt <= layer + 1e-6 for _, t0, dt, _ in drawn)
    key = lambda k, t0, dt: (k, round(t0, 3), round(dt, 3))  # noqa: E731
    assert Counter(key(k, t0, dt) for k, t0, dt, _ in drawn) == Counter(key(k, t0, dt) for k, t0, dt, _, _ in ref)
    # spans that ran concurrently in the chain do so in the trace: the array beside the vector
    # unit of one core (fused attention), and an op's transfers beside an earlier op's compute
    both = []
    for c in range(hw.cores):
        arr = [(t0, dt) for k, t0, dt, _, core in ref if k == "array" and core == c]
        vec = [(t0, dt) for k, t0, dt, _, core in ref if k == "vector" and core == c]
        tarr = [(t0, dt) for k, t0, dt, p in drawn if k == "array" and p == f"core {c}"]
        tvec = [(t0, dt) for k, t0, dt, p in drawn if k == "vector" and p == f"core {c}"]
        both.append((_overlapping(arr, vec), _overlapping(tarr, tvec)))
    assert sum(n for n, _ in both) > 0 and [n for n, _ in both] == [m for _, m in both]
    ahead = [(x, y) for x in ref if x[0] == "dma" for y in ref if y[0] in ("array", "vector") and y[3] < x[3]
             and _overlapping([x[1:3]], [y[1:3]])]
    assert ahead  # prefetch: a later op's transfers while an earlier op computes
    dma = [(t0, dt) for k, t0, dt, _ in drawn if k == "dma"]
    compute = [(t0, dt) for k, t0, dt, _ in drawn if k in ("array", "vector")]
    for x, y in ahead:
        assert _overlapping([x[1:3]], dma) and _overlapping([y[1:3]], compute)
    # the op track: layer 1's ops back to back at their chain starts, then the named repeats
    ops = sorted(spans[(f"lowbit {hw.name}: ops", "op")], key=lambda e: e["ts"])
    starts = [sum(r.cycles for _, r in chain[:i]) for i in range(len(chain))]
    assert [e["ts"] / us for e in ops[:-1]] == pytest.approx(starts)
    assert [e["name"] for e in ops[:-1]] == [f"prefill: {op.name}" for _, op, _ in planned]
    rep = ops[-1]
    assert rep["name"] == "prefill: layers 2..3: repeats of layer 1 (not drawn)"
    assert rep["args"]["ops"] == [op.name for _, op, _ in planned]
    assert (rep["ts"] / us, rep["dur"] / us) == pytest.approx((layer, 2 * layer))
    layers = sorted(spans[(f"lowbit {hw.name}: ops", "layers")], key=lambda e: e["ts"])
    assert [(e["name"], e["args"]["drawn"]) for e in layers] == [
        ("prefill: layer 1", True), ("prefill: layer 2 (repeat of layer 1)", False),
        ("prefill: layer 3 (repeat of layer 1)", False)]


@pytest.mark.parametrize("hw", [FUSED, GB], ids=["chained", "gb"])
def test_spans_of_one_track_never_overlap_and_the_trace_ends_at_the_runs_cycles(tmp_path, hw):
    res, procs, spans = _trace(tmp_path, hw)
    us = 1.0 / hw.clock_mhz
    for (proc, thread), evs in spans.items():
        evs = sorted(evs, key=lambda e: e["ts"])
        for a, b in zip(evs, evs[1:]):
            assert a["ts"] + a["dur"] <= b["ts"] + 1e-6, (proc, thread, a, b)
    ends = [e["ts"] + e["dur"] for evs in spans.values() for e in evs]
    assert min(e["ts"] for evs in spans.values() for e in evs) >= 0
    assert max(ends) == pytest.approx(res.summary["cycles"] * us)


def test_with_two_chips_the_all_reduces_are_drawn_and_the_trace_ends_at_the_runs_cycles(tmp_path):
    hw = replace(BASE, chips=2)
    res, procs, spans = _trace(tmp_path, hw, layers=2)
    us = 1.0 / hw.clock_mhz
    ops = sorted(spans[(f"lowbit {hw.name}: ops", "op")], key=lambda e: e["ts"])
    for a, b in zip(ops, ops[1:]):
        assert b["ts"] == pytest.approx(a["ts"] + a["dur"])
    assert ops[-1]["ts"] + ops[-1]["dur"] == pytest.approx(res.summary["cycles"] * us)
    reduces = [e for e in ops if e["name"].endswith(": allreduce")]
    want = res.ops[res.ops.op == "allreduce"]
    assert len(reduces) == len(want) == 3
    assert [e["dur"] / us for e in reduces] == pytest.approx(list(want.cycles))
