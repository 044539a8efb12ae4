"""``lowbit formats``: a block-size column, block formats' limits all scaled by the block scale
(min normal like max and min subnormal), and a note telling ``e4m3`` (IEEE-style, inf) from
``e4m3fn`` (OCP, finite) with the max each gives; every figure checked against the descriptor
and ml_dtypes, not a typed-in table."""
from __future__ import annotations

import ml_dtypes
import pandas as pd

from hw.formats import BlockFormat, parse
from reports.cli import main


def test_block_column_and_scaled_min_normal(tmp_path, capsys) -> None:
    csv = tmp_path / "f.csv"
    assert main(["formats", "int8", "e4m3fn", "mxfp4", "mxint4", "nvfp4", "--csv", str(csv)]) == 0
    capsys.readouterr()
    t = pd.read_csv(csv, keep_default_na=False)
    assert list(t.columns[:4]) == ["name", "kind", "bits", "block"]
    for _, row in t.iterrows():
        f = parse(row["name"])
        if isinstance(f, BlockFormat):
            assert int(row["block"]) == f.block_size
            # the three limits share one scale factor: the block's smallest (or largest) scale
            small = float(row["min_subnormal"]) / f.element.min_subnormal
            assert float(row["min_normal"]) == f.element.min_normal * small
            assert float(row["min_normal"]) < f.element.min_normal  # scaled, not the element's own
            assert float(row["max"]) == f.max
        else:
            assert row["block"] == ""
            assert float(row["min_normal"]) == f.min_normal


def test_e4m3_vs_e4m3fn_explained(capsys) -> None:
    assert main(["formats", "e4m3", "e4m3fn"]) == 0
    out = capsys.readouterr().out.splitlines()
    ieee = float(ml_dtypes.finfo(ml_dtypes.float8_e4m3).max)
    ocp = float(ml_dtypes.finfo(ml_dtypes.float8_e4m3fn).max)
    assert (ieee, ocp) == (parse("e4m3").max, parse("e4m3fn").max)
    assert out[-1] == (f"note: E4M3 in 2 variants: e4m3 (IEEE-style: the top exponent holds inf and NaN; max {ieee:g}); "
                       f"e4m3fn (finite (OCP FP8/MX): no inf, the top exponent holds numbers except the NaN code "
                       f"S.1111.111; max {ocp:g})")
