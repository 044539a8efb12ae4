"""Format names: the one place where names and aliases are parsed into descriptors."""
from __future__ import annotations

import re
from functools import lru_cache

from ..errors import FormatError, FormatTypeError
from ._base import Format
from ._block import E8M0, MX_ELEMENT_NAMES, BlockFormat
from ._float import FloatFormat, ScaleFormat
from ._int import IntFormat
from ._lookup import BUILTIN_LOOKUPS, HybridFormat

__all__ = ["parse", "ALIASES", "HEADLINE_FORMATS"]

#: alias -> canonical name
ALIASES = {
    "fp32": "float32", "float": "float32", "single": "float32",
    "fp16": "float16", "half": "float16",
    "bf16": "bfloat16",
    "fp8_e4m3": "e4m3fn", "fp8": "e4m3fn", "float8_e4m3fn": "e4m3fn",
    "fp8_e5m2": "e5m2", "float8_e5m2": "e5m2",
    "float8_e4m3fnuz": "e4m3fnuz", "float8_e5m2fnuz": "e5m2fnuz",
    "float8_e4m3b11fnuz": "e4m3b11fnuz", "float8_e3m4": "e3m4", "float8_e4m3": "e4m3",
    "fp6_e2m3": "e2m3fn", "float6_e2m3fn": "e2m3fn",
    "fp6_e3m2": "e3m2fn", "float6_e3m2fn": "e3m2fn", "fp6": "e3m2fn",
    "fp4": "e2m1fn", "fp4_e2m1": "e2m1fn", "float4_e2m1fn": "e2m1fn",
    "e8m0": "e8m0fnu", "float8_e8m0fnu": "e8m0fnu",
    "mxfp4_e2m1": "mxfp4", "mxfp8": "mxfp8_e4m3", "mxfp6": "mxfp6_e3m2",
    "dint4": "dint4_d1",
}

#: the formats the demo, cost tables and reports show by default
HEADLINE_FORMATS = ("int4", "int8", "e4m3fn", "e5m2", "e2m3fn", "e3m2fn", "e2m1fn",
                    "mxint8", "mxfp8_e4m3", "mxfp4", "bfloat16", "float16")

_IEEE = {"float32": (8, 23), "float16": (5, 10), "bfloat16": (8, 7)}
_FLOAT = re.compile(r"e(\d+)m(\d+)(?:b(-?\d+))?(fnuz|fnnan|fnsat|fn)?(?:_nz(-?[0-9.e+-]+))?")
_SCALE = re.compile(r"e(\d+)m0(?:b(-?\d+))?fnu")
_INT = re.compile(r"(u?)int(\d+)(?:_f(\d+))?(_sym)?")
_BLOCK = re.compile(r"(.+)_x(\d+)_([a-z0-9]+)")
_DINT = re.compile(r"dint(\d+)_d(\d+)")
_MX = {v: k for k, v in MX_ELEMENT_NAMES.items()}


def _float_from(m: re.Match) -> FloatFormat:
    e, mm, bias, suffix, nz = m.groups()
    e, mm = int(e), int(mm)
    small = 1 + e + mm < 8
    specials = {None: "ieee", "fnuz": "fnuz", "fnnan": "fn", "fnsat": "none",
                "fn": "none" if small else "fn"}[suffix]
    return FloatFormat(e, mm, None if bias is None else int(bias), specials,
                       None if nz is None else float(nz))


@lru_cache(maxsize=None)
def parse(name: str) -> Format:
    """The format descriptor named ``name`` (canonical name or alias, case-insensitive).

    Raises
    ------
    FormatTypeError
        If the name is not a string (a ``TypeError``, also a ``FormatError``).
    FormatError
        If it names no format.
    """
    if not isinstance(name, str):
        raise FormatTypeError(f"format name must be a string, not {name!r}")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key in _IEEE:
        return FloatFormat(*_IEEE[key], specials="ieee")
    if key in BUILTIN_LOOKUPS:
        return BUILTIN_LOOKUPS[key]
    if key in _MX:
        return BlockFormat(parse(_MX[key]), 32, E8M0)
    if key == "mxint4":
        return BlockFormat(IntFormat(4, frac_bits=2, symmetric=True), 4, E8M0)
    if key == "nvfp4":
        return BlockFormat(parse("e2m1fn"), 16, parse("e4m3fn"))
    if key == "nvint4":
        return BlockFormat(IntFormat(4, symmetric=True), 16, parse("e4m3fn"))
    if m := _DINT.fullmatch(key):
        return HybridFormat(int(m.group(1)), int(m.group(2)))
    if m := _SCALE.fullmatch(key):
        return ScaleFormat(int(m.group(1)), None if m.group(2) is None else int(m.group(2)))
    if m := _FLOAT.fullmatch(key):
        return _float_from(m)
    if m := _INT.fullmatch(key):
        u, bits, frac, sym = m.groups()
        return IntFormat(int(bits), signed=not u, frac_bits=int(frac or 0), symmetric=bool(sym))
    if m := _BLOCK.fullmatch(key):
        return BlockFormat(parse(m.group(1)), int(m.group(2)), parse(m.group(3)))
    raise FormatError(f"format name must be a known format (e.g. int8, e4m3fn, e5m2, mxfp4, "
                      f"bf16, nf4; see `lowbit formats`), not {name!r}")
