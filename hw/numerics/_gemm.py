"""Bit-exact dot products and GEMM on codes.

``accumulate="exact"`` (DESIGN.md decision 1): products are summed exactly and the sum is
rounded once to ``out_fmt``. When every value of a row of A / column of B is a multiple of a
known power of two (the format's smallest step; for block formats the element step times the
line's smallest scale) and the bound of ``_direct_blas`` holds, one BLAS product on the values
is exact (float32 BLAS on chunks of K whose sums stay below 2**24 steps, as for INT8 and MXFP4
at K <= 1040; float64 below 2**53 steps, as for e4m3). Otherwise it is computed with float64
BLAS on exactly scaled integers:
each operand is split into slices (per row of A, per column of B) of integers below 2**L with
L = floor((53 - ceil(log2 K)) / 2), so every slice product sums below 2**53 and is exact
(the exactness bound |partial sums| < 2**53). Formats whose values fit one slice (e4m3,
INT8, FP6, FP4 for K <= 2**13) take one BLAS call; wider ranges (e5m2, FP16, BF16, MX with
spread scales) take a few. The exact slice results are combined error-free (TwoSum cascades)
and rounded once; elements whose sum spans more than ~106 bits fall back to exact rationals.

``accumulate=<float format>`` (FP32/FP16/BF16): each product is rounded to the accumulator
format (exact whenever its significand fits), then added with a rounding at every step, in
the order ``order`` gives: ``"sequential"``, ``("tree", W)`` (pairwise tree over chunks of W
products, then accumulated sequentially), ``("chunked", C)`` (sequential within chunks of
C, then the chunk sums sequentially).

Integer outputs (an N-bit accumulator that wraps or saturates) need integer operands; the
accumulator holds the raw integer sum (its frac_bits must equal the operands' together).
``overflow="wrap"`` is exact arithmetic modulo 2**bits for any operand widths and K (the
exact slice terms are reduced modulo 2**64 before they are added).

**Signed zero of an exact sum** (the rule the RTL follows too): an exactly-zero sum is -0 iff
every one of its K product terms is -0 (K >= 1), +0 otherwise; this is IEEE 754 addition of the
terms in any order in "rne", "rtz" and "rna" ((-0) + (-0) = -0, x + (-x) = +0). The float
accumulation orders start from the first product (not from a +0 register), so they follow the
same rule.

Stochastic output rounding takes ``seed`` (an int, a numpy Generator, or None); see
``hw.numerics._arith`` for the draw order and how LFSR-based RTL is checked against it.
"""
from __future__ import annotations

import math
import threading
from fractions import Fraction
from functools import lru_cache

import numpy as np

from ..errors import FormatError, NumericsError
from ..formats import BlockFormat, FloatFormat, Format, IntFormat
from ..formats._base import check_int, check_overflow, check_rounding, mod_2_64, rng_of
from ._arith import as_format, round_exact, round_fraction, two_sum

__all__ = ["gemm", "dot", "operand_values", "exact_accumulator_width", "exact_sum_values"]

_ORDERS = ("sequential", "tree", "chunked")
_FLOAT32 = FloatFormat(8, 23)


_fmt = as_format


def operand_values(codes, fmt: Format, scales=None, *, axis: int) -> np.ndarray:
    """Exact float64 values of an operand; block formats multiply in their scales, blocks
    running along ``axis`` (the reduction axis). ``scales`` are scale codes with the block
    axis in place of ``axis``."""
    return _operand_values(codes, fmt, scales, axis=axis)


#: per-thread work arrays of the exact GEMM's decoded operands (``_operand_values(slot=)``):
#: the operands never leave ``gemm``, and decoding into memory already mapped saves the page
#: faults of two fresh arrays per call (about a fifth of a 357x1536x384 e4m3 GEMM's time,
#: ``benchmarks/accuracy_gemm.py``). Operands above ``_SCRATCH_MAX`` elements get fresh arrays.
_scratch = threading.local()
_SCRATCH_MAX = 1 << 22


def _scratch_array(slot: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """This thread's reusable float64 array of ``shape`` for ``slot`` ("a" or "b"), or None
    when it is larger than ``_SCRATCH_MAX`` elements."""
    size = math.prod(shape)
    if size > _SCRATCH_MAX:
        return None
    bufs = _scratch.__dict__
    buf = bufs.get(slot)
    if buf is None or buf.size < size:
        buf = bufs[slot] = np.empty(size)
    return buf[:size].reshape(shape)


def _operand_values(codes, fmt: Format, scales=None, *, axis: int, slot: str | None = None) -> np.ndarray:
    """``operand_values``; with ``slot``, 8-bit codes are decoded into this thread's work array
    of that slot (valid until the next call with the same slot: for ``gemm``'s own use only)."""
    codes = np.asarray(codes)
    if isinstance(fmt, BlockFormat):
        if scales is None:
            raise NumericsError(f"scales must be given for the block format {fmt}")
        moved = np.moveaxis(codes, axis, -1)
        sc = np.moveaxis(np.asarray(scales), axis, -1)
        n, bs = moved.shape[-1], fmt.block_size
        if slot is not None and _by_table(fmt.element) and n % bs == 0 and sc.shape == moved.shape[:-1] + (n // bs,):
            # fmt.dequantize's product (element value x its block's scale) computed in place in
            # the work array, without the repeated scales
            el = _operand_values(moved, fmt.element, axis=-1, slot=slot)
            el.reshape(moved.shape[:-1] + (n // bs, bs))[...] *= fmt.scale.decode(sc)[..., None]
            return np.moveaxis(el, -1, axis)
        return np.moveaxis(fmt.dequantize(sc, moved), -1, axis)
    if scales is not None:
        raise NumericsError(f"scales must be None for the non-block format {fmt}")
    if _by_table(fmt):
        if not (codes.dtype == np.uint8 and fmt.code_count == 256):  # else every code is valid
            codes = fmt.check_codes(codes)
        out = None if slot is None else _scratch_array(slot, codes.shape)
        # the same values as fmt.decode, by lookup; the codes are valid indices, so "clip" never
        # clips (and, unlike "raise", does not buffer ``out``)
        return np.take(_value_table(fmt), codes, out=out, mode="clip")
    return fmt.decode(codes)


def _by_table(fmt: Format) -> bool:
    """Whether ``fmt`` is decoded by ``_value_table`` lookup: int and float formats of at most 8
    bits, except symmetric integers (their decode rejects one code)."""
    return isinstance(fmt, (IntFormat, FloatFormat)) and fmt.bits <= 8 \
        and not (isinstance(fmt, IntFormat) and fmt.symmetric)


@lru_cache(maxsize=None)
def _value_table(fmt: Format) -> np.ndarray:
    """Every code's float64 value (formats of at most 8 bits): decode as a table lookup."""
    table = fmt.decode(np.arange(fmt.code_count))  # indexed by code
    table.setflags(write=False)
    return table


def exact_accumulator_width(a_fmt, b_fmt, max_k: int) -> int:
    """Bits of a two's-complement fixed-point accumulator that holds any sum of ``max_k``
    products of finite a_fmt x b_fmt values exactly (LSB = the smallest product quantum).

    Derived from the formats: width = ceil(log2(K * max|a*b| / q + 1)) + 1 with
    q = min_subnormal(a) * min_subnormal(b). For INT8 x INT8 and K = 2**k this is 15 + k + 1
    (the literature's ra + rb + ceil(log2 K) + 1 spends one bit more, for -2**(r-1) squared
    plus a carry it does not need); for minifloats it equals
    2**ea + ma + 2**eb + mb + ceil(log2 K) - 1 up to the bias/specials-dependent top binade.
    """
    a_fmt, b_fmt = _fmt(a_fmt, "a_fmt"), _fmt(b_fmt, "b_fmt")
    check_int("max_k", max_k, 1, error=NumericsError)
    ea, eb = (f.element if isinstance(f, BlockFormat) else f for f in (a_fmt, b_fmt))
    top = Fraction(max_k) * _max_magnitude(ea) * _max_magnitude(eb) / (_quantum(ea) * _quantum(eb))
    return math.ceil(top).bit_length() + 1


def _max_magnitude(f: Format) -> Fraction:
    vals = [abs(float(v)) for v in f.decode(f.all_codes()) if np.isfinite(v)] \
        if f.bits <= 16 else [f.max]
    return Fraction(max(vals))


def _quantum(f: Format) -> Fraction:
    """Largest power of two of which every finite value of ``f`` is an integer multiple."""
    if isinstance(f, IntFormat) or isinstance(f, FloatFormat) and f.neg_zero_value is None:
        return Fraction(f.min_subnormal)
    dens = [Fraction(float(v)).denominator for v in f.decode(f.all_codes()) if np.isfinite(v)]
    return Fraction(1, max(dens))


def _slices(x: np.ndarray, axis: int, bits: int, quantum: float | None = None
            ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split finite float64 ``x`` into integer slices: x == sum_p I_p * 2**s_p exactly, with
    |I_p| < 2**bits and s_p one exponent per row (axis=1) or column (axis=0).

    ``quantum``: a power of two of which every value is a multiple (a format's smallest
    step); when max|x| / quantum < 2**bits the whole operand is one slice in units of it.
    """
    if quantum is not None:
        top = float(np.abs(x).max()) / quantum
        if top < 2.0 ** bits:
            return [(x * (1.0 / quantum), np.full((1, 1), int(np.log2(quantum)), np.int64))]
    out = []
    r = x
    for _ in range(64):
        amax = np.abs(r).max(axis=axis, keepdims=True)
        if not amax.any():
            break
        _, e = np.frexp(amax)  # amax < 2**e
        shift = (e - bits).astype(np.int64)
        scaled = np.ldexp(r, -shift)
        ints = np.trunc(scaled)
        out.append((ints, shift))
        r = np.ldexp(scaled - ints, shift)
    else:  # pragma: no cover - impossible for finite float64
        raise NumericsError("operand split did not terminate")
    return out or [(np.zeros_like(x), np.zeros([1 if i == axis else n for i, n in enumerate(x.shape)], np.int64))]


def exact_sum_values(a: np.ndarray, b: np.ndarray, a_quantum: float | None = None,
                     b_quantum: float | None = None) -> list[np.ndarray]:
    """Exact float64 terms T_i with sum_i T_i == A @ B exactly (finite A: M x K, B: K x N);
    the quanta are powers of two dividing every value of A / B, if known (a scalar, or one per
    row of A / column of B: shapes (M, 1) / (1, N))."""
    return [t.astype(np.float64) for t in _exact_terms(a, b, a_quantum, b_quantum)]


def _exact_terms(a: np.ndarray, b: np.ndarray, a_quantum, b_quantum) -> list[np.ndarray]:
    """``exact_sum_values`` whose single term may be a float32 array (its values exact)."""
    if a_quantum is not None and b_quantum is not None:
        direct = _direct_blas(a, b, a_quantum, b_quantum)
        if direct is not None:
            return [direct]
    if np.ndim(a_quantum) or np.ndim(b_quantum):  # per-line quanta: the slices find their own
        a_quantum = b_quantum = None
    k = a.shape[1]
    bits = (53 - max(1, math.ceil(math.log2(max(k, 2))))) // 2
    sa = _slices(a, 1, bits, a_quantum)
    sb = _slices(b, 0, bits, b_quantum)
    terms = []
    for ia, ea in sa:
        for ib, eb in sb:
            c = ia @ ib
            terms.append(np.ldexp(c, ea + eb))
    return terms


def _abs_max(x: np.ndarray, axis: int | None = None):
    """max |x| (over ``axis``, dims kept) without a temporary |x| array."""
    if axis is None:
        return max(float(x.max()), -float(x.min()))
    return np.maximum(x.max(axis=axis, keepdims=True), -x.min(axis=axis, keepdims=True))


def _direct_blas(a: np.ndarray, b: np.ndarray, qa, qb) -> np.ndarray | None:
    """A @ B exactly by one BLAS product on the values themselves, or None when that is not
    provably exact.

    Every value of row i of A is an integer multiple of qa_i, of column j of B of qb_j (powers
    of two), so every partial sum of element (i, j), in any order and with or without FMA, is a
    multiple of qa_i * qb_j of magnitude at most K' * ta * tb * qa_i * qb_j, where
    ta = max_i max|A[i]| / qa_i, tb likewise and K' the number of products summed. It is exact
    in float32 when K' * ta * tb <= 2**24, every qa_i, qb_j and qa_i * qb_j is at least 2**-126
    (normal float32: no subnormal operand, product or sum) and K' * max|A| * max|B| < 2**127 (no
    overflow), in float64 when K * ta * tb < 2**53 (and the quanta's product is a normal float64).
    float32 BLAS runs on chunks of K' = floor(2**24 / (ta * tb)) products (at least 16, else
    float64 is as fast), whose results are added in float64 (exact: below 2**53 multiples). The result is a float32 array
    when one chunk covers K (the exact values, which float32 holds), float64 otherwise.
    Exactly-zero sums are +0.
    """
    k = a.shape[1]
    amax, bmax = _abs_max(a, 1 if np.ndim(qa) else None), _abs_max(b, 0 if np.ndim(qb) else None)
    ta, tb = float(np.max(amax / qa)), float(np.max(bmax / qb))
    amax, bmax = float(np.max(amax)), float(np.max(bmax))
    qa_lo, qb_lo = float(np.min(qa)), float(np.min(qb))
    top = ta * tb
    if top == 0.0:
        return np.zeros((a.shape[0], b.shape[1]))
    chunk = int(2.0 ** 24 // top)
    if chunk >= 16 and min(qa_lo, qb_lo, qa_lo * qb_lo) >= 2.0 ** -126 \
            and amax * bmax * min(chunk, k) < 2.0 ** 127:
        a32, b32 = a.astype(np.float32), b.astype(np.float32)
        if chunk >= k:
            c = a32 @ b32
            c += np.float32(0.0)  # an exactly-zero sum is +0 (the signed-zero pass decides -0)
            return c
        total = None
        for c0 in range(0, k, chunk):
            part = (a32[:, c0:c0 + chunk] @ b32[c0:c0 + chunk]).astype(np.float64)
            total = part if total is None else total + part  # +0 + -0 = +0 after the first add
        total += 0.0
        return total
    if k * top < 2.0 ** 53 and qa_lo * qb_lo >= 2.0 ** -1022 and amax * bmax * k < 2.0 ** 1000:
        c = a @ b
        c += 0.0
        return c
    return None


def _special_results(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """IEEE results of rows/columns with inf/NaN operands (NaN, ±inf), NaN-free zeros elsewhere;
    None if all operands are finite."""
    if np.isfinite(a).all() and np.isfinite(b).all():
        return None
    f = lambda m: m.astype(np.float64)  # noqa: E731
    nan = f(np.isnan(a)).sum(1)[:, None] + f(np.isnan(b)).sum(0)[None, :] > 0
    ia, ib = np.isinf(a), np.isinf(b)
    nan |= (f(ia) @ f(b == 0) + f(a == 0) @ f(ib)) > 0
    pa, na = f(a > 0), f(a < 0)
    pb, nb = f(b > 0), f(b < 0)
    pos = (f(a == np.inf) @ pb + f(a == -np.inf) @ nb + pa @ f(b == np.inf) + na @ f(b == -np.inf)) > 0
    neg = (f(a == np.inf) @ nb + f(a == -np.inf) @ pb + pa @ f(b == -np.inf) + na @ f(b == np.inf)) > 0
    nan |= pos & neg
    out = np.full(nan.shape, np.nan)
    out[~nan & pos] = np.inf
    out[~nan & neg] = -np.inf
    out[~nan & ~pos & ~neg] = 0.0  # finite: filled by the exact path
    return out


def _vecsum(terms: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Error-free cascade: (s, errs) with s + sum(errs) == sum(terms) exactly."""
    s = terms[0]
    errs = []
    for t in terms[1:]:
        s, e = two_sum(s, t)
        if np.any(e):
            errs.append(e)
    return s, errs


def _round_terms(terms: list[np.ndarray], out: Format, rounding: str, overflow: str,
                 rng: np.random.Generator) -> np.ndarray:
    """Codes of sum(terms) (exact float64 arrays) rounded once to ``out``.

    Two error-free TwoSum cascades give sum = s + c exactly wherever the second cascade's
    own errors vanish (c is then exact), and (hi, lo) = TwoSum(s, c) is rounded exactly.
    Elements where they do not vanish (rare: a sum spread over more than ~106 bits) are
    summed as exact rationals.
    """
    if len(terms) == 1:  # one exact term (finite, exactly-zero sums +0): one rounding
        t = terms[0]
        if t.dtype == np.float32 and out == _FLOAT32 and rounding != "stochastic":
            return t.view(np.uint32)  # float32 holds the exact value: its bits are the code
        return out.encode(t, rounding, overflow=overflow, seed=rng)
    s, errs = _vecsum(terms)
    if not errs:
        return round_exact(s, 0.0, out, rounding, overflow=overflow, seed=rng)
    c, errs2 = _vecsum(errs)
    hi, lo = two_sum(s, c)
    codes = round_exact(hi, lo, out, rounding, overflow=overflow, seed=rng)
    if errs2:
        inexact = np.zeros(s.shape, dtype=bool)
        for e in errs2:
            inexact |= e != 0
        idx = np.flatnonzero(inexact)
        flat = codes.ravel().copy()
        exact = [sum((Fraction(float(t.ravel()[i])) for t in terms), Fraction(0)) for i in idx]
        flat[idx] = round_fraction(exact, out, rounding, overflow=overflow, seed=rng)
        codes = flat.reshape(codes.shape)
    return codes


def _float_accumulate(a: np.ndarray, b: np.ndarray, acc: FloatFormat, order) -> np.ndarray:
    """Values (float64, exactly representable in ``acc``) of A @ B accumulated in ``acc``."""
    def rnd(x, err=0.0):
        return acc.decode(round_exact(x, err, acc))

    def add(x, y):
        s, e = two_sum(x, y)
        return rnd(s, e)

    kind, width = (order, None) if isinstance(order, str) else order
    k = a.shape[1]
    width = k if kind == "sequential" else width

    def chain(values):  # sequential sum from the first value (IEEE: -0 survives only -0 terms)
        total = None
        for v in values:
            total = v if total is None else add(total, v)
        return total

    def tree(values):
        level = list(values)
        while len(level) > 1:
            nxt = [add(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        return level[0]

    with np.errstate(invalid="ignore", over="ignore"):
        prods = lambda j: rnd(a[:, j, None] * b[None, j, :])  # noqa: E731
        chunk = tree if kind == "tree" else chain
        return chain(chunk(prods(j) for j in range(c0, min(c0 + width, k))) for c0 in range(0, k, width))


def _check_order(order):
    if isinstance(order, str) and order == "sequential":
        return order
    if isinstance(order, tuple) and len(order) == 2 and order[0] in ("tree", "chunked") \
            and isinstance(order[1], int) and order[1] >= 1:
        if order[0] == "tree" and order[1] & (order[1] - 1):
            raise NumericsError(f"tree width must be a power of two, not {order[1]!r}")
        return order
    raise NumericsError(f"order must be 'sequential', ('tree', W) or ('chunked', C), not {order!r}")


def gemm(a_codes, a_fmt, b_codes, b_fmt, out_fmt, accumulate="exact", rounding: str = "rne", *,
         a_scales=None, b_scales=None, order="sequential", overflow: str = "default",
         seed=None) -> np.ndarray:
    """C = A @ B on codes, bit-exact.

    Parameters
    ----------
    a_codes : M x K codes of ``a_fmt``; b_codes : K x N codes of ``b_fmt`` (formats or names;
        lookup and hybrid formats through their values; mixed pairs such as INT4 x e4m3 allowed).
    out_fmt : format of C: a float format, or an integer accumulator (integer operands only;
        frac_bits = a.frac_bits + b.frac_bits) that wraps (``overflow="wrap"``, exact modulo
        2**bits) or saturates.
    accumulate : "exact" (one rounding) or a float format / name ("fp32", "fp16", "bf16")
        accumulated in ``order`` (see the module docstring).
    rounding : rounding of the output, "rne", "rtz", "rna" or "stochastic" (validated for
        integer outputs too, where an exact integer sum needs no rounding).
    a_scales, b_scales : scale codes of block formats: (M, K/bs) for A, (K/bs, N) for B.
    seed : random source of ``rounding="stochastic"``: an int (same seed, same codes), a
        numpy Generator, or None.

    Returns
    -------
    M x N codes of ``out_fmt``. An exactly-zero sum is -0 iff all its K products are -0.
    """
    rounding = check_rounding(rounding)
    check_overflow(overflow)
    rng = rng_of(seed) if rounding == "stochastic" else None
    a_fmt, b_fmt, out_fmt = _fmt(a_fmt, "a_fmt"), _fmt(b_fmt, "b_fmt"), _fmt(out_fmt, "out_fmt")
    a_codes, b_codes = np.asarray(a_codes), np.asarray(b_codes)
    if a_codes.ndim != 2 or b_codes.ndim != 2 or a_codes.shape[1] != b_codes.shape[0]:
        raise NumericsError(f"operands must be M x K and K x N code arrays, not {a_codes.shape} and {b_codes.shape}")
    if 0 in a_codes.shape or 0 in b_codes.shape:
        raise NumericsError(f"GEMM dimensions must be positive, not {a_codes.shape} x {b_codes.shape}")
    a = _operand_values(a_codes, a_fmt, a_scales, axis=1, slot="a")  # work arrays: see _scratch
    b = _operand_values(b_codes, b_fmt, b_scales, axis=0, slot="b")
    if accumulate != "exact":
        acc = _fmt(accumulate, "accumulate")
        if not isinstance(acc, FloatFormat):
            raise FormatError(f"accumulate must be 'exact' or a float format, not {accumulate!r}")
        vals = _float_accumulate(a, b, acc, _check_order(order))
        return out_fmt.encode(vals, rounding, overflow=overflow, seed=rng)
    if isinstance(out_fmt, IntFormat):
        return _int_gemm(a, a_fmt, b, b_fmt, out_fmt, overflow)
    if not isinstance(out_fmt, FloatFormat):
        raise FormatError(f"out_fmt must be a float or integer format, not {out_fmt}")
    special = _special_results(a, b)
    af = a if special is None else np.where(np.isfinite(a), a, 0.0)
    bf = b if special is None else np.where(np.isfinite(b), b, 0.0)
    qa = _operand_quantum(a_fmt) if a_scales is None else _block_quantum(a_fmt, a_scales, 1)
    qb = _operand_quantum(b_fmt) if b_scales is None else _block_quantum(b_fmt, b_scales, 0)
    codes = _round_terms(_exact_terms(af, bf, qa, qb), out_fmt, rounding, overflow, rng)
    codes = _signed_zeros(codes, a, b, out_fmt)
    if special is not None:
        bad = special != 0
        codes = np.where(bad, out_fmt.encode(special, rounding, overflow=overflow), codes)
    return codes


def _signed_zeros(codes: np.ndarray, a: np.ndarray, b: np.ndarray, out: Format) -> np.ndarray:
    """``codes`` with -0 where the exact sum is zero and every product a[i,k]*b[k,j] is -0.

    Two BLAS counts over the rows and columns that hold a zero result: every product is zero iff
    sum_k [a != 0][b != 0] == 0, and every product's sign is negative iff
    sum_k sgn(a) sgn(b) == -K with sgn = -1 for a set sign bit, +1 otherwise (float32 counts,
    exact for K < 2**24; float64 beyond). Non-finite operands give NaN/inf results, which the
    caller overrides.
    """
    if not isinstance(out, FloatFormat) or not out.has_neg_zero:
        return codes
    zero = codes == 0  # the exact sum is rounded from +0 here (never -0 before this pass)
    if not zero.any():
        return codes
    # pigeonhole: at least K - za[i] - zb[j] products of (i, j) are non-zero (za, zb: zeros per
    # row of A / column of B), so only elements with za[i] + zb[j] >= K can have all products zero
    rows, cols = np.flatnonzero(zero.any(axis=1)), np.flatnonzero(zero.any(axis=0))
    za, zb = np.count_nonzero(a[rows] == 0, axis=1), np.count_nonzero(b[:, cols] == 0, axis=0)
    zero[np.ix_(rows, cols)] &= (za[:, None] + zb[None, :]) >= a.shape[1]
    if not zero.any():
        return codes
    rows, cols = np.flatnonzero(zero.any(axis=1)), np.flatnonzero(zero.any(axis=0))
    sa, sb = a[rows], b[:, cols]
    dt = np.float32 if a.shape[1] < 2 ** 24 else np.float64  # counts exact in the dtype
    nonzero = (sa != 0).astype(dt) @ (sb != 0).astype(dt)
    sign = np.where(np.signbit(sa), dt(-1.0), dt(1.0)) @ np.where(np.signbit(sb), dt(-1.0), dt(1.0))
    neg_zero = np.zeros(codes.shape, dtype=bool)
    neg_zero[np.ix_(rows, cols)] = (nonzero == 0) & (sign == -a.shape[1])
    return np.where(neg_zero & zero, np.asarray(1 << (out.bits - 1), dtype=codes.dtype), codes)


def _operand_quantum(fmt: Format) -> float | None:
    """The format's smallest step if every value is a multiple of it (float and int formats)."""
    if isinstance(fmt, IntFormat) or isinstance(fmt, FloatFormat) and fmt.neg_zero_value is None:
        return float(fmt.min_subnormal)
    return None


def _block_quantum(fmt: BlockFormat, scales, axis: int) -> np.ndarray | float | None:
    """A power of two dividing every value of each row (``axis=1``, shape (M, 1)) or column
    (``axis=0``, (1, N)) of a block-format operand: the element quantum times the line's
    smallest power-of-two scale (scalar for float scale formats: element quantum times the
    scale format's quantum); None if unknown or a scale is NaN."""
    q_el = _operand_quantum(fmt.element)
    if q_el is None:
        return None
    if isinstance(fmt.scale, FloatFormat):
        q_sc = _operand_quantum(fmt.scale)
        return None if q_sc is None else q_el * q_sc
    sc = fmt.scale.decode(scales)  # powers of two, NaN for the NaN code
    if not np.isfinite(sc).all():
        return None
    return q_el * sc.min(axis=axis, keepdims=True)


def _int_gemm(a, a_fmt, b, b_fmt, out: IntFormat, overflow: str) -> np.ndarray:
    if not (isinstance(a_fmt, IntFormat) and isinstance(b_fmt, IntFormat)):
        raise FormatError(f"an integer out_fmt needs integer operands, not {a_fmt} x {b_fmt}")
    if out.frac_bits != a_fmt.frac_bits + b_fmt.frac_bits:
        raise FormatError(f"out_fmt frac_bits must be {a_fmt.frac_bits + b_fmt.frac_bits} (the operands' sum), "
                          f"not {out.frac_bits!r}")
    if overflow not in ("default", "saturate", "wrap"):
        raise FormatError(f"overflow must be 'wrap' or 'saturate' for an integer accumulator, not {overflow!r}")
    ai = np.ldexp(a, a_fmt.frac_bits)
    bi = np.ldexp(b, b_fmt.frac_bits)
    terms = exact_sum_values(ai, bi, 1.0, 1.0)
    total = np.zeros(terms[0].shape, dtype=np.uint64)  # the exact sum modulo 2**64
    with np.errstate(over="ignore"):
        for t in terms:
            total += mod_2_64(t)
    if overflow == "wrap":
        return out.from_int((total & np.uint64((1 << out.bits) - 1)).astype(np.int64))
    s, errs = _vecsum(terms)
    approx = s + sum(errs) if errs else s  # within a few ulps of the exact sum
    lo, hi = out.min_int, out.max_int
    exact = total.view(np.int64)  # the exact sum wherever |sum| < 2**63
    sat = np.where(approx > 2.0 ** 62, hi, np.where(approx < -(2.0 ** 62), lo, np.clip(exact, lo, hi)))
    return out.from_int(sat)


def dot(a_codes, a_fmt, b_codes, b_fmt, out_fmt, accumulate="exact", rounding: str = "rne", *,
        a_scales=None, b_scales=None, order="sequential", overflow: str = "default",
        seed=None) -> np.ndarray:
    """Dot products along the last axis of equally shaped code arrays (rows x K -> rows); the
    parameters are those of ``gemm`` (one random generator serves every row)."""
    rounding = check_rounding(rounding)
    rng = rng_of(seed) if rounding == "stochastic" else None
    a_codes, b_codes = np.atleast_2d(a_codes), np.atleast_2d(b_codes)
    if a_codes.shape != b_codes.shape:
        raise NumericsError(f"dot operands must have the same shape, not {a_codes.shape} and {b_codes.shape}")
    out = [gemm(a_codes[i:i + 1], a_fmt, b_codes[i:i + 1].T, b_fmt, out_fmt, accumulate, rounding,
                a_scales=None if a_scales is None else np.atleast_2d(a_scales)[i:i + 1],
                b_scales=None if b_scales is None else np.atleast_2d(b_scales)[i:i + 1].T,
                order=order, overflow=overflow, seed=rng)[0, 0] for i in range(a_codes.shape[0])]
    return np.array(out, dtype=out[0].dtype)
