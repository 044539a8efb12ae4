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

__all__ = ["ACCURACY_KERNELS", "SCALE_LIMITED", "accuracy_markdown", "accuracy_table", "float_reference"]

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
    derivation does not cover (``consts_from_scale`` rejects it: I-BERT GELU above ~0.0206);
    ``table.attrs["omitted"]`` lists those points with the reason.
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
    omitted: list[str] = []
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
                except UnitConfigError as exc:
                    if name in SCALE_LIMITED:  # a scale its derivation does not cover: no row
                        if b == bits[0]:
                            omitted.append(f"{name} ({variant}) at s_in = {s:g}: {exc}")
                        continue
                    raise
                y = kernel(name, consts, variant=variant).forward(x_int) * np.asarray(consts["s_out"])
                ref = float_reference(name, xr)
                err = np.abs(y - ref)
                records.append({"kernel": name, "variant": variant, "s_in": float(np.float32(s)),
                                "x_bits": b, "max_abs_err": float(err.max()),
                                "mean_abs_err": float(err.mean()),
                                "rel_rms_err": float(np.sqrt(np.mean(err ** 2) / np.mean(ref ** 2))),
                                "max_abs_ref": float(np.abs(ref).max()), "n_values": int(err.size)})
    table = pd.DataFrame.from_records(records)
    table.attrs["omitted"] = omitted
    return table


#: what each kernel approximates and how, for the Markdown tables
_DESCRIPTIONS = {
    "ibert_int_gelu": "I-BERT IntGELU: erf by a clipped second-order polynomial (README §4.1); "
                      "constants exist only for s_in up to ~0.0206 (|c_int| >= 2^14).",
    "ivit_shiftgelu": "I-ViT ShiftGELU: x·sigmoid(1.702x) with the exp by shifts and the row maximum (§4.5).",
    "ibert_int_softmax": "I-BERT IntSoftmax: polynomial exp, 16-bit requantisation, 8-bit output (§4.2).",
    "ivit_shiftmax": "I-ViT Shiftmax: exp by shifts, (2^31-1) // sum, 8-bit output (§4.4).",
    "ibert_int_layernorm": "I-BERT IntLayerNorm: integer mean, dynamic shift, square root, 2^31 // std (§4.3).",
    "ivit_int_layernorm": "I-ViT IntLayerNorm: 10 Newton steps from 2^16 (reference) or an exact isqrt (§4.6).",
    "int_rmsnorm": "Integer RMSNorm (I-LLM DI-Norm style): isqrt(sum x^2 + eps_int), (2^31-1) // std, "
                   "out = floor(x·factor/2), real scale sqrt(N)/2^30 (weight folded into the next layer).",
    "int_silu": "Integer SiLU / SwiGLU (I-LLM DI-SwiGLU style): exp by shifts of -|x|, one division "
                "per element to a 16-bit sigmoid, y = x·sig (SwiGLU: times up, exact).",
}


def accuracy_markdown(table: pd.DataFrame, *, command: str, rows: int, length: int, seed: int = 0) -> str:
    """``accuracy_table``'s result as a Markdown document: one table per kernel and variant.

    Parameters
    ----------
    table : a DataFrame returned by ``accuracy_table``.
    command : the command line that produced it (printed at the top).
    rows, length, seed : the sampling the table used (stated in the text).
    """
    def g(v: float) -> str:
        return f"{v:.3g}"

    out = ["# Accuracy of the integer nonlinear kernels", "",
           f"Generated by `{command}`; do not edit by hand.", "",
           f"Each point runs the bit-exact golden model (`hw.nonlinear`, the function the RTL units "
           f"in `hw.units.nonlinear` equal bit for bit) on {rows} rows of {length} integers drawn "
           f"uniformly from the full signed `x_bits` range (seed {seed}), scales the integer output by "
           "the kernel's `s_out`, and compares it with the float64 function of the real inputs "
           "`x_int * s_in` (exact GELU with erf, x·sigmoid(x), softmax, LayerNorm and RMSNorm with "
           "weight 1, bias 0, no epsilon). `max |err|` and `mean |err|` are in output units; "
           "`rel. RMS` is RMS(error) / RMS(float64 output); `max |ref|` gives the output's scale. "
           "Section numbers (§4.x) refer to the kernel specification in the test vectors' README "
           "(`tests/../shared/vectors/README.md`).", ""]
    for note in table.attrs.get("omitted", []):
        out += [f"Not in the tables: {note}.", ""]
    rank = {kv: i for i, kv in enumerate(ACCURACY_KERNELS)}
    groups = sorted(table.groupby(["kernel", "variant"], sort=False), key=lambda g: rank.get(g[0], len(rank)))
    for (name, variant), part in groups:
        out += [f"## {name} ({variant})", "", _DESCRIPTIONS.get(name, ""), "",
                "| s_in | x_bits | max \\|err\\| | mean \\|err\\| | rel. RMS | max \\|ref\\| |",
                "|---:|---:|---:|---:|---:|---:|"]
        for r in part.sort_values(["x_bits", "s_in"], ascending=[True, False]).itertuples():
            out.append(f"| {g(r.s_in)} | {r.x_bits} | {g(r.max_abs_err)} | {g(r.mean_abs_err)} | "
                       f"{g(r.rel_rms_err)} | {g(r.max_abs_ref)} |")
        out.append("")
    return "\n".join(out)
