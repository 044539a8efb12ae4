"""``lowbit cost``: user mistakes are one line on stderr with exit code 2; the standard-cell run
writes line items, Fmax, library/node and provenance to its CSV; ``--hw`` prints a budget; the
generic-flow run (slow: it builds the calibration anchor and a MAC at gate level) writes the CSV
it prints."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reports.cli import main


@pytest.mark.parametrize("argv, message", [
    (["cost", "--formats", "int8", "--lanes", "0"], "lowbit: error: --lanes must be a positive integer, not 0\n"),
    (["cost", "--formats", "int8", "--fpga", "xc7"],
     "lowbit: error: --fpga must list families among ecp5, ecp5-nodsp, ice40 or be none, not 'xc7'\n"),
    (["cost"], "lowbit: error: --formats must list at least one format (or give --reference or --hw), not nothing\n"),
    (["cost", "--formats", "int8:"],
     "lowbit: error: --formats entry must be A, A:B or A@ACC with every part named, not 'int8:'\n"),
    (["cost", "--formats", "int8,e4m3fn@"],
     "lowbit: error: --formats entry must be A, A:B or A@ACC with every part named, not 'e4m3fn@'\n"),
    (["cost", "--formats", "dint4_d2"],
     "lowbit: error: exact accumulator of dint4_d2 x dint4_d2 must be at most 96 bits wide to be costed "
     "(use a float accumulator), not 127 bits\n"),
    (["cost", "--formats", "int8", "--library", "tsmc5"], "lowbit: error: --library must be one of osu018, not 'tsmc5'\n"),
    (["cost", "--formats", "int8", "--node", "3"],
     "lowbit: error: --node must be one of 180, 130, 90, 65, 45, 32, 20, 16, 14, 10, 7 (nm), not 3\n"),
    (["cost", "--formats", "int8", "--flow", "spice"], "lowbit: error: --flow must be liberty or generic, not 'spice'\n"),
    (["cost", "--formats", "int8", "--distribution", "cauchy"],
     "lowbit: error: --distribution must be uniform or gaussian, not 'cauchy'\n"),
])
def test_user_mistakes_exit_2(argv: list[str], message: str, capsys, tmp_path: Path) -> None:
    assert main([*argv, "--cache", str(tmp_path)]) == 2
    assert capsys.readouterr().err == message


def test_unmeetable_clock_target_exit_2(capsys, tmp_path: Path, standard_cells) -> None:
    assert main(["cost", "--formats", "int8", "--clock-mhz", "50000", "--node", "45", "--no-energy",
                 "--cache", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lowbit: error: --clock-mhz must be at most ") and err.endswith(", not 50000\n")
    assert "MHz at 45 nm for mac_int8_int8_exact_float32_l1" in err and err.count("\n") == 1


def test_liberty_csv_has_line_items_fmax_and_provenance(tmp_path: Path, capsys, standard_cells) -> None:
    csv = tmp_path / "cost.csv"
    assert main(["cost", "--formats", "int4,int8", "--cycles", "60", "--node", "7", "--clock-mhz", "200",
                 "--k", "64", "--cache", str(tmp_path / "cache"), "--csv", str(csv), "--no-progress"]) == 0
    out = capsys.readouterr().out
    df = pd.read_csv(csv)
    assert list(df["a_format"]) == ["int4", "int8"]
    items = ["decode", "multiply", "align", "scale", "accumulate", "registers", "output"]
    area_items = df[[f"area_{i}_um2" for i in items]].sum(axis=1)
    assert list(area_items) == pytest.approx(list(df["area_um2"]))
    energy_items = df[[f"energy_{i}_pj_per_cycle" for i in items]].sum(axis=1)
    assert list(energy_items) == pytest.approx(list(df["energy_pj_per_op"]), rel=1e-5)
    assert (df["fmax_mhz_7nm"] >= 200).all() and (df["clock_target_mhz"] == 200).all()
    for col in ("library", "library_sha256", "node_nm", "tools", "rtlil_sha256", "verilog_sha256", "stimulus",
                "calibration", "scaling", "flow"):
        assert df[col].notna().all(), col
    assert set(df["library"]) == {"osu018"} and set(df["node_nm"]) == {7}
    assert "uniform operands, seed 0, 60 cycles" in df["stimulus"].iloc[0]
    assert "provenance: osu018" in out and "opensta" in out
    # output conversion amortised over k: the per-product energy is below the per-cycle energy
    assert (df["energy_pj_per_product_k64_7nm"] < df["energy_pj_per_op_7nm"]).all()


def test_hw_budget(tmp_path: Path, capsys, standard_cells) -> None:
    csv = tmp_path / "budget.csv"
    assert main(["cost", "--hw", "examples/hw_edge_16x16.toml", "--node", "45", "--cycles", "60", "--row-length",
                 "8", "--cache", str(tmp_path / "cache"), "--csv", str(csv), "--no-progress"]) == 0
    df = pd.read_csv(csv)
    assert list(df["count"][:2]) == [256, 16]
    assert df["block"].str.startswith("SRAM").sum() == 4
    out = capsys.readouterr().out
    assert "total:" in out and "Horowitz" in out and "Mistry" in out
    # vector units: dynamic power measured on their own netlists; the totals line sums the lines
    vec = df[df["block"].str.startswith("vector unit")]
    assert len(vec) >= 1 and (vec["dynamic_mw"] > 0).all()
    total = next(line for line in out.splitlines() if line.startswith("total:"))
    assert f"{df['dynamic_mw'].sum():.4g} mW dynamic at peak" in total
    # SRAM leakage at 45 nm from the relayed per-bit figure (hw.cost.sram_cost); none for the logic off the library's node
    sram = df["block"].str.startswith("SRAM")
    assert df["leakage_mw"][sram].notna().all() and df["leakage_mw"][~sram].isna().all()
    assert total.endswith(f", {df['leakage_mw'][sram].sum():.4g} mW leakage")
    assert "leakage not modelled at 45 nm for: array PEs, column output converters, vector unit" in out


def test_hw_budget_prints_sram_leakage_where_published(tmp_path: Path, capsys, standard_cells) -> None:
    from hw.cost import sram_cost

    csv = tmp_path / "budget.csv"
    assert main(["cost", "--hw", "examples/hw_edge_16x16.toml", "--node", "130", "--cycles", "60", "--row-length",
                 "8", "--cache", str(tmp_path / "cache"), "--csv", str(csv), "--no-progress"]) == 0
    out = capsys.readouterr().out
    df = pd.read_csv(csv)
    sram = df[df["block"].str.startswith("SRAM")]
    assert len(sram) == 4
    for block, leak in zip(sram["block"], sram["leakage_mw"]):
        kib = float(block.split("(")[-1].split(" KiB")[0])
        width = int(block.split(", ")[-1].split("-bit")[0])
        assert leak == pytest.approx(sram_cost(capacity_kib=kib, width_bits=width, node_nm=130).leakage_mw)
    total = next(line for line in out.splitlines() if line.startswith("total:"))
    assert total.endswith(f", {sram['leakage_mw'].sum():.4g} mW leakage")
    assert "OpenRAM SkyWater 130 macros" in out and "leakage not modelled at 130 nm for: array PEs" in out


@pytest.mark.slow
def test_cost_table_csv(tmp_path: Path, capsys) -> None:
    csv = tmp_path / "cost.csv"
    assert main(["cost", "--flow", "generic", "--formats", "int4,int4:int8,int8,e4m3fn", "--fpga", "none", "--cycles", "50",
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
    assert main(["cost", "--flow", "generic", "--formats", "int4,int8", "--fpga", "none", "--no-energy", "--cache",
                 str(tmp_path / "cache"), "--csv", str(area_only), "--no-progress"]) == 0
    ao = pd.read_csv(area_only)
    assert list(ao["area_um2"]) == [df["area_um2"].iloc[0], df["area_um2"].iloc[2]]
    assert ao["energy_pj_per_op"].isna().all()
