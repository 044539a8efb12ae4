"""``lowbit simulate``: a run prints its summary; user mistakes are one line on stderr, exit 2."""
from __future__ import annotations

import json

import pytest

from reports.cli import main


def _err(capsys, argv) -> str:
    assert main(argv) == 2
    out = capsys.readouterr()
    assert out.err.count("\n") == 1
    return out.err.strip()


def test_runs_and_writes_trace_and_csv(tmp_path, capsys):
    trace, csv = tmp_path / "t.json", tmp_path / "ops.csv"
    assert main(["simulate", "--model", "gpt2", "--recipe", "W4A8", "--hw", "edge-16x16", "--prefill", "32",
                 "--decode", "2", "--layers", "1", "--trace", str(trace), "--csv", str(csv), "--no-progress",
                 "--no-energy"]) == 0
    out = capsys.readouterr().out
    assert "model gpt2  recipe W4A8  hw edge-16x16  batch 1  prefill 32  decode 2  layers 1" in out
    assert json.loads(trace.read_text())["traceEvents"]
    assert csv.read_text().startswith("phase,step,kv_len,")


def test_unknown_model_and_recipe(capsys):
    assert _err(capsys, ["simulate", "--model", "gpt-5", "--recipe", "INT8"]) == (
        "lowbit: error: model must be one of bert-base, gpt2, llama2-7b, llama2-70b, llama3-8b, mistral-7b, qwen2-7b, vit-b16, "
        "whisper-large-v2-encoder or a config.json path, not 'gpt-5'")
    assert _err(capsys, ["simulate", "--model", "gpt2", "--recipe", "INT3"]) == (
        "lowbit: error: recipe must be one of FP16, BF16, INT8, W4A8, W4A8-FP8, FP8, FP6, MXFP4, MXFP8, "
        "W4A8KV4, I-BERT, I-ViT or a .toml path, not 'INT3'")


def test_config_missing_a_field(tmp_path, capsys):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_positions": 128}))
    assert _err(capsys, ["simulate", "--model", str(p), "--recipe", "INT8"]) == (
        f"lowbit: error: config.json field 'n_layer' must be present for model_type 'gpt2' ({p}), not missing")


def test_sram_too_small(tmp_path, capsys):
    p = tmp_path / "tiny.toml"
    p.write_text('preset = "default-32x32"\n[sram]\nb_kib = 1\n')
    assert _err(capsys, ["simulate", "--model", "bert-base", "--recipe", "INT8", "--hw", str(p), "--layers", "1"]) == (
        "lowbit: error: SRAM buffer 'b' must hold two tiles of the smallest legal tile of q_proj "
        "(1 x 32 x 32: 2048 bytes), not 1024 bytes")


def test_kv_cache_longer_than_context(capsys):
    assert _err(capsys, ["simulate", "--model", "gpt2", "--recipe", "FP16", "--prefill", "1000", "--decode", "100"]) == (
        "lowbit: error: KV cache length (prefill + decode = 1100) must be at most the context of gpt2 "
        "(1024 tokens), not 1100")


def test_decode_on_an_encoder(capsys):
    assert _err(capsys, ["simulate", "--model", "vit-b16", "--recipe", "FP8", "--decode", "3"]) == (
        "lowbit: error: decode steps must be 0 for the encoder vit-b16, not 3")


@pytest.mark.parametrize("argv, message", [
    (["--prefill", "0"], "prefill must be a positive integer, not 0"),
    (["--layers", "13"], "layers must be at most the 12 layers of bert-base, not 13"),
])
def test_bad_lengths(capsys, argv, message):
    assert _err(capsys, ["simulate", "--model", "bert-base", "--recipe", "INT8", *argv]) == f"lowbit: error: {message}"


def test_numerics_flag(capsys):
    assert main(["simulate", "--model", "bert-base", "--recipe", "FP8", "--hw", "edge-16x16", "--prefill", "16",
                 "--layers", "1", "--numerics", "--tokens", "2", "--no-progress", "--no-energy"]) == 0
    out = capsys.readouterr().out
    assert "numerics (2 tokens, one layer): output error vs float64: relative RMS" in out
    assert "golden GEMMs vs exact-rational reference:" in out


def test_energy_by_default_in_scaled_units(capsys):
    """Without --no-energy the recipe's datapath is characterised (hw.cost.datapath_energy, cached,
    uniform operands as lowbit cost) and the total energy includes it: the printed total is the
    sum of its parts, each in scaled units, and the provenance of the figures is printed."""
    import re

    from mapping import parse_recipe
    from sim import datapath_energy_of, load_hardware, simulate

    assert main(["simulate", "--model", "bert-base", "--recipe", "INT8", "--hw", "edge-16x16", "--prefill", "16",
                 "--layers", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    rec = datapath_energy_of(load_hardware("edge-16x16"), parse_recipe("INT8"), distribution="uniform")
    res = simulate("bert-base", "INT8", "edge-16x16", prefill=16, layers=1, mac_cost=rec)
    total_uj = res.summary["energy_pj"] / 1e6
    line = next(ln for ln in out.splitlines() if ln.startswith("energy "))
    m = re.match(r"energy (\S+) (pJ|nJ|µJ|mJ|J)  \(dram (\S+) (\w+J)  sram (\S+) (\w+J)  gb (\S+) (\w+J)  "
                 r"mac (\S+) (\w+J)  vector (\S+) (\w+J)\)", line)
    assert m, line
    scale = {"pJ": 1e-6, "nJ": 1e-3, "µJ": 1.0, "mJ": 1e3, "J": 1e6}
    assert float(m.group(1)) * scale[m.group(2)] == pytest.approx(total_uj, rel=1e-3)
    parts = [float(m.group(i)) * scale[m.group(i + 1)] for i in (3, 5, 7, 9, 11)]
    assert sum(parts) == pytest.approx(total_uj, rel=2e-3) and parts[4] > 0 and parts[2] == 0  # no global buffer
    assert f"MAC unit {rec.pe_name} (pipeline {rec.pipeline}): " in out and "stimulus: uniform" in out
    # which flow the energy came from and why: hw.cost.meet_clock's statement for this PE
    why = rec.provenance["pe"]["measured"]["clock"]["statement"]
    assert f"MAC energy from the standard-cell flow (osu018, OpenSTA) because {why}\n" in out
    assert why.startswith(f"pipeline {rec.pipeline} is the shallowest of depths 0, 1, 2 whose paths outside")
    stated = next(ln for ln in out.splitlines() if ln.startswith("note: energy source: datapath"))
    for what in ("rtlil", "osu018", "clock target 500 MHz", "calibration", "opensta", "stimulus: uniform"):
        assert what in stated, what
    cycles = next(ln for ln in out.splitlines() if ln.startswith("time "))
    assert re.fullmatch(r"time [0-9.]+ (µs|ms|s)  \(([0-9,]+) cycles at [0-9.]+ MHz\)", cycles), cycles
    assert "per phase step: '/layer' columns are one layer's figures" in out


def test_long_step_table_says_rows_are_elided(tmp_path, capsys):
    csv = tmp_path / "ops.csv"
    assert main(["simulate", "--model", "gpt2", "--recipe", "INT8", "--hw", "edge-16x16", "--prefill", "8",
                 "--decode", "20", "--layers", "1", "--no-progress", "--no-energy", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out.splitlines()
    head = next(i for i, ln in enumerate(out) if ln.startswith("per phase step:"))
    assert out[head].endswith("; 12 of 21 rows shown")
    assert out[head + 1].split() == ["phase", "step", "kv_len", "layers", "cycles/layer", "cycles", "(all",
                                     "layers)", "DRAM", "read/layer", "DRAM", "write/layer", "MACs/layer"]
    assert "  ... 9 rows elided (all 21 in --csv) ..." in out
    rows = [ln.split() for ln in out[head + 2:head + 15] if not ln.startswith("  ...")]
    assert len(rows) == 12 and [r[1] for r in rows] == [str(i) for i in range(10)] + ["19", "20"]
    assert all("." not in r[4] for r in rows)  # whole cycles
