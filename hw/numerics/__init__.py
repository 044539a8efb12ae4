"""Golden arithmetic: the numpy functions that define, bit for bit, what every unit outputs.

``add``/``mul``/``fma``/``convert`` on codes of any minifloat (one rounding, IEEE semantics);
``gemm``/``dot`` with exact accumulation (rounded once) or FP32/FP16/BF16 accumulation in an
explicit order; ``exact_accumulator_width`` for the fixed-point accumulators of the RTL.

Rules shared by every entry point (and by the RTL checked against them): formats may be given
as descriptors or names; rounding modes are ``hw.formats.ROUNDINGS`` and "stochastic" takes
``seed`` (int or numpy Generator: same seed, same codes); infinities are exact (kept in every
mode); NaN results are the canonical quiet NaN; an exactly-zero sum is -0 iff every term is -0;
integer accumulators that wrap are exact modulo 2**bits.
"""
from __future__ import annotations

from ._arith import add, convert, fma, mul, round_exact, round_fraction, two_sum
from ._gemm import dot, exact_accumulator_width, exact_sum_values, gemm, operand_values
from ._reference import reference_gemm

__all__ = ["add", "convert", "dot", "exact_accumulator_width", "exact_sum_values", "fma", "gemm",
           "mul", "operand_values", "reference_gemm", "round_exact", "round_fraction", "two_sum"]
