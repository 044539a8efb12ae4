"""The Perfetto trace (sim._trace), parsed back from the written JSON: a process per core with
array, vector, stall and one track per DMA engine; a memory process with the DRAM and global
buffer ports; the op track covers the whole run and names the layers that repeat the drawn one;
the DMA and DRAM tracks carry every byte the per-op table says was moved."""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace

import pytest

from sim import PRESETS, simulate, write_result_trace

BASE = replace(PRESETS["default-32x32"], cores=3)
GB = replace(BASE, gb_kib=2048, gb_gbps=256.0)


def _trace(tmp_path, hw, layers=3):
    res = simulate("gpt2", "INT8", hw, prefill=48, decode=2, layers=layers, trace=True)
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
    # one layer: with several, the ops of a chained layer (sim._overlap, no global buffer) are
    # drawn op after op, each followed by its repeats, so their overlapping spans move apart
    res, procs, spans = _trace(tmp_path, hw, layers=1)
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
    layer_rows = res.ops[res.ops.layers > 1]
    assert len(repeats) == len(layer_rows) > 0
    assert all(e["args"]["layers"] == "2..3" for e in repeats)
    drawn = [e for e in ops if e.get("args", {}).get("drawn")]
    assert len(drawn) == len(res.ops)
