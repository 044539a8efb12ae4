"""Number-format descriptors: one frozen, hashable dataclass per family, limits derived.

Families: ``IntFormat`` (signed/unsigned, 1..32 bits, optional fixed point), ``FloatFormat``
(ExMy with IEEE / OCP "fn" / "fnuz" / no specials; FP32, FP16, BF16 included),
``ScaleFormat`` (E8M0), ``BlockFormat`` (MX, MXINT4, BFP, NVFP4), ``LookupFormat`` (NF4, SF4,
APoT4) and ``HybridFormat`` (dINT). ``parse`` is the one place names are resolved.
``Quantizer`` pairs a format with a scale granularity, as recipes use it.

The one rounding vocabulary of ``hw`` lives here too: ``ROUNDINGS`` (rne, rtz, rna, stochastic:
every encode and the golden arithmetic), ``INTEGER_ROUNDINGS`` (half_up, floor: shift-based
integer rounders), ``ROUNDING_ALIASES`` (older spellings), checked by ``check_rounding``; and the
one integer-parameter checker ``check_int``.
"""
from __future__ import annotations

from ._base import (INTEGER_ROUNDINGS, OVERFLOWS, ROUNDING_ALIASES, ROUNDINGS, Format, check_int,
                    check_rounding)
from ._block import BlockFormat
from ._float import SPECIALS, FloatFormat, ScaleFormat
from ._int import IntFormat
from ._lookup import APOT4, NF4, SF4, HybridFormat, LookupFormat, student_float_values
from ._parse import ALIASES, HEADLINE_FORMATS, parse
from ._quantizer import GRANULARITIES, Quantizer

__all__ = [
    "ALIASES", "APOT4", "BlockFormat", "FloatFormat", "Format", "GRANULARITIES", "HEADLINE_FORMATS",
    "HybridFormat", "INTEGER_ROUNDINGS", "IntFormat", "LookupFormat", "NF4", "OVERFLOWS", "Quantizer",
    "ROUNDINGS", "ROUNDING_ALIASES", "check_int", "check_rounding",
    "SF4", "SPECIALS", "ScaleFormat", "format_table", "parse", "student_float_values",
]


def format_table(names=HEADLINE_FORMATS):
    """A pandas DataFrame of formats: name, bits, bias, max, min normal, min subnormal,
    specials, bits per element (including amortised scales). Every figure is derived from
    the descriptor."""
    import pandas as pd

    rows = []
    for name in names:
        f = parse(name) if isinstance(name, str) else name
        rows.append({
            "name": str(f), "kind": f.kind, "bits": f.bits,
            "bias": getattr(f, "bias", getattr(getattr(f, "element", None), "bias", None)),
            "max": f.max, "min_normal": f.min_normal, "min_subnormal": f.min_subnormal,
            "specials": f.specials_text, "bits_per_element": f.bits_per_element,
        })
    return pd.DataFrame(rows)
