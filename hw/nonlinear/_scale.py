"""Constants of the integer kernels derived from quantisation scales, in float32 exactly as the
I-BERT / I-ViT references compute them (torch float32 tensors; ``python_float / tensor`` is
reciprocal-then-multiply, ``tensor / python_float`` a float32 division)."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..errors import UnitConfigError
from ._kernels import NonlinearKernel, kernel

__all__ = ["consts_from_scale", "from_scale", "IBERT_LN2"]

#: ln 2 as I-BERT's code writes it (the ``x0_int`` of its integer exponential)
IBERT_LN2 = 0.6931

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
                      bias: Sequence[float] | None = None, length: int | None = None,
                      eps: float = 0.0) -> dict[str, Any]:
    """The ``consts`` record of kernel ``name`` for input scale ``s_in`` (float32).

    Parameters
    ----------
    name : kernel name (see ``hw.nonlinear.KERNELS``; not ``dyadic_requant``).
    s_in : input scale (real value of one input LSB), cast to float32 as the references do.
    out_bit : Shiftmax output bits (8 or 16 in I-ViT; default 8), SiLU sigmoid bits (default
        16). Ignored elsewhere.
    weight, bias : LayerNorm affine parameters (float32, one per channel; N = len(weight));
        RMSNorm weight (optional: without it ``s_out`` is the scalar ``s_mid``).
    length : RMSNorm channel count N when no weight is given.
    eps : RMSNorm epsilon (real units; ``eps_int = round(N * eps / s_in^2)``).

    Raises
    ------
    UnitConfigError
        A scale the kernel's derivation does not cover (I-BERT GELU above s_in ~ 0.0206, where
        ``|c_int| < 2^14`` and the erf no longer survives I-BERT's 2^14 shift), a constant that
        is not finite, or missing LayerNorm/RMSNorm parameters.

    Returns
    -------
    dict with the same keys and values as the vector files' group ``consts``.
    """
    s = _scale(s_in)
    if name == "ibert_int_gelu":
        s_e = _f32(s / _f32(1.4142))
        s_e2 = _f32(s_e * s_e)
        s_sig = _f32(_f32(s_e2 * _f32(-0.2888)) * _f32(2 ** 14))
        c_int = _floor(_recip_mul(1 / -0.2888, s_e2), "c_int")
        if c_int > -(1 << 14):
            raise UnitConfigError(
                "ibert_int_gelu input scale must give c_int <= -2**14 (I-BERT's erf polynomial stays "
                f"resolved after its 2**14 shift: s_in up to about 0.0206), not {s_in!r} (c_int = {c_int})")
        return {"s_erf": float(s_e), "b_int": _floor(_recip_mul(-1.769, s_e), "b_int"),
                "c_int": c_int, "n": 14,
                "s_sig": float(s_sig), "shift_int": _floor(_recip_mul(1.0, s_sig), "shift_int"),
                "s_out": float(_f32(_f32(s * s_sig) / _f32(2)))}
    if name == "ibert_int_softmax":
        s2 = _f32(s * s)
        c = _floor(_recip_mul(1.0 / 0.35815147, s2), "c_int")
        exp_sf = _f32(_f32(_f32(0.35815147) * s2) / _f32(2 ** 30))
        return {"x0_int": _floor(_recip_mul(-IBERT_LN2, s), "x0_int"),
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
    if name == "int_silu":
        ob = 16 if out_bit is None else out_bit
        if not isinstance(ob, int) or not 2 <= ob <= 31:
            raise UnitConfigError(f"out_bit must be an integer in [2, 31], not {ob!r}")
        x0 = _floor(_recip_mul(-1.0, s), "x0_int")
        if x0 < -(1 << 20):
            raise UnitConfigError(f"int_silu input scale must give x0_int = floor(-1/s_in) >= -2**20, not {s_in!r} (x0_int = {x0})")
        return {"x0_int": x0, "n": 15, "out_bit": ob, "den_bits": 16,
                "s_out": float(_f32(s * _f32(2.0 ** (1 - ob))))}
    if name == "int_rmsnorm":
        n_ch = len(weight) if weight is not None else length
        if weight is not None and length is not None and length != n_ch:
            raise UnitConfigError(f"int_rmsnorm length must equal len(weight) = {n_ch}, not {length!r}")
        if isinstance(n_ch, bool) or not isinstance(n_ch, int) or not 1 <= n_ch <= (1 << 20):
            raise UnitConfigError(f"int_rmsnorm needs length (or weight) with 1 to 2**20 channels, not {n_ch!r}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 <= eps < math.inf:
            raise UnitConfigError(f"eps must be a finite number >= 0, not {eps!r}")
        eps_int = round(n_ch * float(eps) / (float(s) * float(s)))
        if eps_int >= (1 << 62):
            raise UnitConfigError(f"eps / s_in**2 * N must be below 2**62, not {eps_int!r}")
        s_mid = _f32(np.sqrt(_f32(n_ch)) / _f32(2 ** 30))
        if weight is None:
            s_out: Any = float(s_mid)
        else:
            w = np.asarray(weight, dtype=np.float32)
            if w.ndim != 1 or not np.all(np.isfinite(w)):
                raise UnitConfigError(f"weight must be 1-D and finite, not {np.asarray(weight).tolist()!r}")
            s_out = [float(v) for v in (s_mid * w).astype(np.float32)]
        return {"N": n_ch, "eps_int": eps_int, "s_mid": float(s_mid), "s_out": s_out}
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
               bias: Sequence[float] | None = None, length: int | None = None,
               eps: float = 0.0) -> NonlinearKernel:
    """Kernel ``name`` configured from input scale ``s_in`` (and LayerNorm ``weight``/``bias``,
    RMSNorm ``length``/``eps``) the way the reference derives its constants; see
    ``consts_from_scale``."""
    return kernel(name, consts_from_scale(name, s_in, out_bit=out_bit, weight=weight, bias=bias,
                                          length=length, eps=eps), variant=variant)
