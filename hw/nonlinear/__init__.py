"""Integer-only nonlinear kernels of transformer inference (I-BERT IntGELU/IntSoftmax/
IntLayerNorm, I-ViT Shiftmax/ShiftGELU/IntLayerNorm, integer RMSNorm and SiLU/SwiGLU after
I-LLM) and the dyadic requantizer between them:
bit-exact golden models, float32 constant derivation from quantisation scales, accuracy table.

The specification is ``../shared/vectors/README.md`` §4; the RTL units in ``hw.units.nonlinear``
are checked against these models.
"""
from __future__ import annotations

from ._kernels import (INT31, KERNELS, VARIANTS, DyadicRequantizer, IBertIntGELU, IBertIntLayerNorm,
                       IBertIntSoftmax, IntRMSNorm, IntSiLU, IViTIntLayerNorm, IViTShiftGELU, IViTShiftmax,
                       NonlinearKernel, batch_frexp, ivit_exp_shift, kernel,
                       variant_differences)
from ._accuracy import ACCURACY_KERNELS, SCALE_LIMITED, accuracy_markdown, accuracy_table, float_reference
from ._scale import IBERT_LN2, consts_from_scale, from_scale

__all__ = [
    "INT31", "IntRMSNorm", "IntSiLU", "SCALE_LIMITED", "accuracy_markdown", "ACCURACY_KERNELS", "KERNELS", "VARIANTS", "accuracy_table", "float_reference", "DyadicRequantizer", "IBertIntGELU", "IBertIntLayerNorm",
    "IBertIntSoftmax", "IViTIntLayerNorm", "IViTShiftGELU", "IViTShiftmax", "NonlinearKernel",
    "batch_frexp", "IBERT_LN2", "consts_from_scale", "from_scale", "ivit_exp_shift", "kernel",
    "variant_differences",
]
