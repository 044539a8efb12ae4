"""``lowbit cost``: user mistakes are one line on stderr with exit code 2; an end-to-end run
(slow: it builds the calibration anchor and a MAC at gate level) writes the CSV it prints."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reports.cli import main


@pytest.mark.parametrize("argv, message", [
    (["cost", "--formats", "int8", "--lanes", "0"], "lowbit: error: --lanes must be a positive integer, not 0\n"),
    (["cost", "--formats", "int8", "--fpga", "xc7"],
     "lowbit: error: --fpga must list families among ecp5, ecp5-nodsp, ice40 or be none, not 'xc7'\n"),
    (["cost"], "lowbit: error: --formats must list at least one format (or give --reference), not nothing\n"),
    (["cost", "--formats", "int8", "--distribution", "cauchy"],
     "lowbit: error: --distribution must be uniform or gaussian, not 'cauchy'\n"),
])
def test_user_mistakes_exit_2(argv: list[str], message: str, capsys, tmp_path: Path) -> None:
    assert main([*argv, "--cache", str(tmp_path)]) == 2
    assert capsys.readouterr().err == message


@pytest.mark.slow
def test_cost_table_csv(tmp_path: Path, capsys) -> None:
    csv = tmp_path / "cost.csv"
    assert main(["cost", "--formats", "int4,int4:int8,int8,e4m3fn", "--fpga", "none", "--cycles", "50",
                 "--cache", str(tmp_path / "cache"), "--csv", str(csv), "--no-progress"]) == 0
    df = pd.read_csv(csv)
    assert list(df["a_format"]) == ["int4", "int4", "int8", "e4m3fn"]
    assert list(df["b_format"]) == ["int4", "int8", "int8", "e4m3fn"]
    assert df["area_um2"].iloc[1] > df["area_um2"].iloc[0]
    assert "mac_int4_int4" in capsys.readouterr().out
    # the published FP8-vs-INT8 ratio (exact accumulators) is written next to ours, from the table
    pub = pd.read_csv(tmp_path / "cost.published.csv")
    row = pub[(pub["metric"] == "area") & (pub["published"] == 1.53)].iloc[0]
    assert row["ours"] == pytest.approx(df["area_um2"].iloc[3] / df["area_um2"].iloc[2])
    # --no-energy: the same areas from the cache, no energy figure
    area_only = tmp_path / "area.csv"
    assert main(["cost", "--formats", "int4,int8", "--fpga", "none", "--no-energy", "--cache",
                 str(tmp_path / "cache"), "--csv", str(area_only), "--no-progress"]) == 0
    ao = pd.read_csv(area_only)
    assert list(ao["area_um2"]) == [df["area_um2"].iloc[0], df["area_um2"].iloc[2]]
    assert ao["energy_pj_per_op"].isna().all()
