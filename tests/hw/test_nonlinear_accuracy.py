"""Accuracy table of the integer kernels (hw.nonlinear.accuracy_table) and ``lowbit nonlinear``."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hw.errors import UnitConfigError
from hw.nonlinear import ACCURACY_KERNELS, accuracy_table, float_reference
from reports.cli import main


def test_float_references() -> None:
    g = float_reference("ibert_int_gelu", np.array([[-1.0, 0.0, 1.0, 3.0]]))
    np.testing.assert_allclose(g, [[-0.15865525393145707, 0.0, 0.8413447460685429, 3 * 0.9986501019683699]], rtol=1e-13)
    sm = float_reference("ivit_shiftmax", np.array([[0.0, math.log(3.0)]]))
    np.testing.assert_allclose(sm, [[0.25, 0.75]], rtol=1e-15)
    ln = float_reference("ivit_int_layernorm", np.array([[1.0, 3.0]]))
    np.testing.assert_allclose(ln, [[-1.0, 1.0]])
    rms = float_reference("int_rmsnorm", np.array([[3.0, -4.0]]))
    np.testing.assert_allclose(rms, [[3.0 / math.sqrt(12.5), -4.0 / math.sqrt(12.5)]], rtol=1e-15)
    silu = float_reference("int_silu", np.array([[-800.0, 0.0, math.log(3.0)]]))
    np.testing.assert_allclose(silu, [[0.0, 0.0, 0.75 * math.log(3.0)]], rtol=1e-15, atol=1e-300)


def test_table_shape_and_documented_accuracy() -> None:
    t = accuracy_table(scales=(0.1, 0.01, 0.002), bits=(8,), rows=16, length=32)
    assert isinstance(t, pd.DataFrame)
    # I-BERT GELU has no row at 0.1: a scale its derivation does not cover
    assert len(t) == 3 * len(ACCURACY_KERNELS) - 1
    assert not ((t.kernel == "ibert_int_gelu") & (t.s_in == np.float32(0.1))).any()
    assert list(t.columns) == ["kernel", "variant", "s_in", "x_bits", "max_abs_err", "mean_abs_err",
                               "rel_rms_err", "max_abs_ref", "n_values"]
    assert np.all(np.isfinite(t[["max_abs_err", "mean_abs_err"]].to_numpy()))
    assert (t.max_abs_err >= t.mean_abs_err).all()
    row = lambda k, s: t[(t.kernel == k) & (t.s_in == np.float32(s)) & (t.variant == "reference")].iloc[0]
    # README §4.1: I-BERT GELU is accurate only at fine scales (~0.02 at s <= 0.001)
    assert row("ibert_int_gelu", 0.002).max_abs_err < 0.02 < row("ibert_int_gelu", 0.01).max_abs_err
    # softmax outputs are quantised to 2^-8 (I-BERT) / 2^-7 (Shiftmax, out_bit 8)
    assert row("ibert_int_softmax", 0.002).max_abs_err < 4 * 2 ** -8
    # the LLM kernels (docs/nonlinear_accuracy.md): SiLU within a few percent RMS, RMSNorm within 1%
    llm = t[t.kernel.isin(["int_silu", "int_rmsnorm"])]
    assert len(llm) == 6 and (llm.rel_rms_err < np.where(llm.kernel == "int_silu", 0.05, 0.01)).all()
    # LayerNorm does not depend on the input scale
    assert row("ivit_int_layernorm", 0.1).max_abs_err == pytest.approx(row("ivit_int_layernorm", 0.002).max_abs_err, rel=1e-9)


def test_table_rejects_bad_arguments() -> None:
    with pytest.raises(UnitConfigError, match=r"^bit width must be an integer in \[2, 31\], not 40$"):
        accuracy_table(bits=(40,))
    with pytest.raises(UnitConfigError, match=r"^kernel name must be a GELU, SiLU, softmax, LayerNorm or RMSNorm kernel, not 'relu'$"):
        accuracy_table(kernels=(("relu", "exact"),))


def test_cli_accuracy_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "acc.csv"
    assert main(["nonlinear", "--accuracy", "--scale", "0.01", "--bits", "8", "--rows", "4",
                 "--length", "16", "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ivit_shiftmax" in printed and "max_abs_err" in printed
    csv = pd.read_csv(out)
    direct = accuracy_table(scales=(0.01,), bits=(8,), rows=4, length=16)
    pd.testing.assert_frame_equal(csv, direct, check_exact=False, rtol=1e-12)


def test_cli_consts_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nonlinear", "--consts", "ivit_shiftmax", "--scale", "0.25"]) == 0
    assert '"x0_int": -4' in capsys.readouterr().out
    assert main(["nonlinear", "--accuracy", "--rows", "0"]) == 2
    assert capsys.readouterr().err == "lowbit: error: rows must be a positive integer, not 0\n"
