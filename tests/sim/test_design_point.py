"""``sim.run_design_point``: one row per recipe with cycles, energy, error and a trace file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim import run_design_point, simulate


def test_bert_layer_design_point(tmp_path):
    df = run_design_point(model="bert-base", recipes=("INT8", "MXFP4"), hw="edge-16x16", prefill=64, tokens=4,
                          out_dir=tmp_path, area=False)
    assert list(df.recipe) == ["INT8", "MXFP4"]
    for row in df.itertuples():
        ref = simulate("bert-base", row.recipe, "edge-16x16", prefill=64, layers=1)
        assert row.cycles == ref.summary["cycles"]
        assert json.loads(Path(row.trace).read_text())["traceEvents"]
        eq, n = map(int, row.gemm_outputs_checked.split("/"))
        assert eq == n > 0
    # MXFP4 moves fewer bytes than INT8 (4.25 vs 8 bits per weight and activation)
    assert df.dram_mb[1] < df.dram_mb[0]
    assert not df.energy_complete.any()  # MAC energy not characterised: memory only, and said so


def test_no_recipes():
    with pytest.raises(ValueError, match=r"^recipes must name at least one recipe, not \(\)$"):
        run_design_point(recipes=())
