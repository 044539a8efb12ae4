"""Constants of the integer kernels derived from quantisation scales, in float32 exactly as the
I-BERT / I-ViT references compute them (torch float32 tensors; ``python_float / tensor`` is
reciprocal-then-multiply, ``tensor / python_float`` a float32 division)."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..errors import UnitConfigError
from ._kernels import NonlinearKernel, kernel

__all__ = ["consts_from_scale", "from_scale"]

_f32 = np.float32


def _recip_mul(num: float, s: np.float32) -> np.float32:
    """``num / s`` as torch evaluates a Python float over a float32 tensor."""
    return _f32(_f32(_f32(1.0) / s) * _f32(num))


def _scale(s_in: Any) -> np.float32:
    if isinstance(s_in, bool) or not isinstance(s_in, (int, float, np.floating, np.integer)):
        raise UnitConfigError(f"input scale must be a number, not {s_in!r}")
    s = _f32(s_in)
    if not (np.isfinite(s) and s > 0):
        raise UnitConfigError(f"input scale must be a positive finite float32, not {s_in!r}")
    return s


def _floor(v: np.float32, what: str) -> int:
    if not np.isfinite(v):
        raise UnitConfigError(f"{what} must be finite for this input scale, not {float(v)!r}")
    return int(math.floor(float(v)))


def consts_from_scale(name: str, s_in: float, *, out_bit: int | None = None,
                      weight: Sequence[float] | None = None,
                      bias: Sequence[float] | None = None) -> dict[str, Any]:
    """The ``consts`` record of kernel ``name`` for input scale ``s_in`` (float32).

    Parameters
    ----------
    name : kernel name (see ``hw.nonlinear.KERNELS``; not ``dyadic_requant``).
    s_in : input scale (real value of one input LSB), cast to float32 as the references do.
    out_bit : Shiftmax output bits (8 or 16 in I-ViT; default 8). Ignored elsewhere.
    weight, bias : LayerNorm affine parameters (float32, one per channel; N = len(weight)).

    Returns
    -------
    dict with the same keys and values as the vector files' group ``consts``.
    """
    s = _scale(s_in)
    if name == "ibert_int_gelu":
        s_e = _f32(s / _f32(1.4142))
        s_e2 = _f32(s_e * s_e)
        s_sig = _f32(_f32(s_e2 * _f32(-0.2888)) * _f32(2 ** 14))
        return {"s_erf": float(s_e), "b_int": _floor(_recip_mul(-1.769, s_e), "b_int"),
                "c_int": _floor(_recip_mul(1 / -0.2888, s_e2), "c_int"), "n": 14,
                "s_sig": float(s_sig), "shift_int": _floor(_recip_mul(1.0, s_sig), "shift_int"),
                "s_out": float(_f32(_f32(s * s_sig) / _f32(2)))}
    if name == "ibert_int_softmax":
        s2 = _f32(s * s)
        c = _floor(_recip_mul(1.0 / 0.35815147, s2), "c_int")
        exp_sf = _f32(_f32(_f32(0.35815147) * s2) / _f32(2 ** 30))
        return {"x0_int": _floor(_recip_mul(-0.6931, s), "x0_int"),
                "b_int": _floor(_recip_mul(0.96963238 / 0.35815147, s), "b_int"), "c_int": c,
                "n": 30, "exp_sf": float(exp_sf), "out_bit": 8,
                "act_sf16": float(_f32(_f32(c * 2 ** 30) / _f32(32767))), "s_out": 2.0 ** -8}
    if name == "ivit_shiftmax":
        ob = 8 if out_bit is None else out_bit
        if not isinstance(ob, int) or not 1 <= ob <= 31:
            raise UnitConfigError(f"out_bit must be an integer in [1, 31], not {ob!r}")
        return {"x0_int": _floor(_recip_mul(-1.0, s), "x0_int"), "n": 15, "out_bit": ob,
                "s_out": float(_f32(1 / 2 ** (ob - 1)))}
    if name == "ivit_shiftgelu":
        s_sig = _f32(s * _f32(1.702))
        return {"s_sig": float(s_sig), "x0_int": _floor(_recip_mul(-1.0, s_sig), "x0_int"), "n": 23,
                "out_bit": 8, "s_out": float(_f32(s * _f32(1 / 128)))}
    if name in ("ibert_int_layernorm", "ivit_int_layernorm"):
        if weight is None or bias is None:
            raise UnitConfigError(f"{name} needs weight and bias, not {(weight, bias)!r}")
        w = np.asarray(weight, dtype=np.float32)
        b = np.asarray(bias, dtype=np.float32)
        if w.ndim != 1 or w.shape != b.shape or w.size == 0:
            raise UnitConfigError(f"weight and bias must be 1-D of equal non-zero length, not shapes {w.shape} and {b.shape}")
        if not np.all(np.isfinite(w)) or np.any(w == 0) or not np.all(np.isfinite(b)):
            raise UnitConfigError("weight must be finite and non-zero and bias finite, not "
                                  f"{w.tolist()!r} / {b.tolist()!r}")
        s_mid = _f32(np.sqrt(_f32(w.size)) / _f32(2 ** 30))
        with np.errstate(over="raise", invalid="raise"):
            try:
                ratio = (((b / w).astype(np.float32)) / s_mid).astype(np.float32)
            except FloatingPointError:
                raise UnitConfigError("bias/weight/s_mid must be finite in float32, not overflowing") from None
        if not np.all(np.isfinite(ratio)):
            raise UnitConfigError("bias/weight/s_mid must be finite in float32, not overflowing")
        return {"s_mid": float(s_mid), "bias_int": [int(v) for v in np.floor(ratio)],
                "s_out": [float(v) for v in (s_mid * w).astype(np.float32)], "N": int(w.size)}
    raise UnitConfigError(f"kernel name must be a kernel with a scale-derived configuration, not {name!r}")


def from_scale(name: str, s_in: float, *, variant: str = "reference", out_bit: int | None = None,
               weight: Sequence[float] | None = None,
               bias: Sequence[float] | None = None) -> NonlinearKernel:
    """Kernel ``name`` configured from input scale ``s_in`` (and LayerNorm ``weight``/``bias``)
    the way the reference derives its constants; see ``consts_from_scale``."""
    return kernel(name, consts_from_scale(name, s_in, out_bit=out_bit, weight=weight, bias=bias),
                  variant=variant)
