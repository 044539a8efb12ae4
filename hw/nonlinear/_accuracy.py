"""Accuracy of the integer kernels against float64 GELU, SiLU, softmax, LayerNorm and RMSNorm,
per input scale and input bit width: the accuracy side of the accuracy-vs-cost picture."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import UnitConfigError
from ._kernels import KERNELS
from ._kernels import kernel
from ._scale import consts_from_scale

__all__ = ["ACCURACY_KERNELS", "SCALE_LIMITED", "accuracy_table", "float_reference"]

#: kernels whose constants exist only for some input scales (``consts_from_scale`` raises outside)
SCALE_LIMITED = ("ibert_int_gelu",)

#: (kernel name, variant) pairs in the default table; "exact" only where it differs.
ACCURACY_KERNELS: tuple[tuple[str, str], ...] = (
    ("ibert_int_gelu", "reference"), ("ivit_shiftgelu", "reference"),
    ("ibert_int_softmax", "reference"), ("ibert_int_softmax", "exact"),
    ("ivit_shiftmax", "reference"),
    ("ibert_int_layernorm", "reference"), ("ibert_int_layernorm", "exact"),
    ("ivit_int_layernorm", "reference"), ("ivit_int_layernorm", "exact"),
    ("int_rmsnorm", "reference"), ("int_silu", "reference"),
)

_erf = np.vectorize(math.erf, otypes=[np.float64])


def float_reference(name: str, x: np.ndarray) -> np.ndarray:
    """float64 function a kernel approximates: exact GELU (erf form), SiLU ``x sigmoid(x)``, row
    softmax, LayerNorm or RMSNorm (weight 1, bias 0, no epsilon) of real inputs ``x`` (rows x
    length)."""
    x = np.asarray(x, dtype=np.float64)
    if name.endswith("silu"):
        return x * 0.5 * (1.0 + np.tanh(0.5 * x))  # x sigmoid(x), no overflow
    if name.endswith("rmsnorm"):
        return x / np.sqrt(np.mean(x * x, axis=1, keepdims=True))
    if name.endswith("gelu"):
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    if name.endswith(("softmax", "shiftmax")):
        z = np.exp(x - x.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)
    if name.endswith("layernorm"):
        return (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    raise UnitConfigError(f"kernel name must be a GELU, SiLU, softmax, LayerNorm or RMSNorm kernel, not {name!r}")


def accuracy_table(*, scales: Sequence[float] = (0.1, 0.05, 0.02, 0.01, 0.002),
                   bits: Sequence[int] = (8, 16), length: int = 64, rows: int = 64,
                   kernels: Sequence[tuple[str, str]] = ACCURACY_KERNELS,
                   seed: int = 0) -> pd.DataFrame:
    """Max and mean absolute error (in real output units) of each kernel against its float64
    function on uniformly random signed ``bits``-bit rows, per input scale.

    Parameters
    ----------
    scales : input scales s_in (real value of one input LSB).
    bits : input bit widths; inputs are uniform over the full signed range.
    length : row length (elements); ``rows`` rows per (scale, bits) point.
    kernels : (name, variant) pairs.
    seed : random seed (the same inputs for every kernel at one point).

    Returns
    -------
    DataFrame with columns kernel, variant, s_in, x_bits, max_abs_err, mean_abs_err,
    rel_rms_err (RMS error over RMS of the float64 output), max_abs_ref (largest |float64
    output|, for scale) and n_values. A kernel of ``SCALE_LIMITED`` has no row at a scale its
    derivation does not cover (``consts_from_scale`` rejects it: I-BERT GELU above ~0.0206).
    """
    if not isinstance(length, int) or length < 2:
        raise UnitConfigError(f"length must be an integer >= 2, not {length!r}")
    if not isinstance(rows, int) or rows < 1:
        raise UnitConfigError(f"rows must be a positive integer, not {rows!r}")
    for b in bits:
        if not isinstance(b, int) or not 2 <= b <= 31:
            raise UnitConfigError(f"bit width must be an integer in [2, 31], not {b!r}")
    for name, variant in kernels:
        if name not in KERNELS or name == "dyadic_requant":
            raise UnitConfigError(f"kernel name must be a GELU, SiLU, softmax, LayerNorm or RMSNorm kernel, not {name!r}")
    records = []
    for b in bits:
        rng = np.random.default_rng([seed, b])
        x_int = rng.integers(-(1 << (b - 1)), 1 << (b - 1), size=(rows, length))
        x_int[:, 0] = x_int[:, 1] + 1  # never a constant row
        for s in scales:
            xr = x_int * np.float64(np.float32(s))
            for name, variant in kernels:
                try:
                    if name.endswith("layernorm"):
                        consts = consts_from_scale(name, s, weight=np.ones(length), bias=np.zeros(length))
                    else:
                        consts = consts_from_scale(name, s, length=length)
                except UnitConfigError:
                    if name in SCALE_LIMITED:
                        continue  # a scale its derivation does not cover: no row (documented)
                    raise
                y = kernel(name, consts, variant=variant).forward(x_int) * np.asarray(consts["s_out"])
                ref = float_reference(name, xr)
                err = np.abs(y - ref)
                records.append({"kernel": name, "variant": variant, "s_in": float(np.float32(s)),
                                "x_bits": b, "max_abs_err": float(err.max()),
                                "mean_abs_err": float(err.mean()),
                                "rel_rms_err": float(np.sqrt(np.mean(err ** 2) / np.mean(ref ** 2))),
                                "max_abs_ref": float(np.abs(ref).max()), "n_values": int(err.size)})
    return pd.DataFrame.from_records(records)
