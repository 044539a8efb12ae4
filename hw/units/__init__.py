"""RTL units generated from format descriptors: operand decoders, exact products, rounders,
float adders, the one MAC datapath (``MacFormats``, the PE ``MacPe`` that arrays instantiate,
``OutputConverter``), MAC and dot-product units built from it, the MX block dot unit, requantizers, and the factory
(``build_mac``/``build_unit``) that names and describes them for Verilog export and costing.

Every unit is an Amaranth ``wiring.Component`` whose ports and widths derive from its formats;
its timing is one function next to it (``mac_timing``, ...), asserted in tests against the
cycles measured in simulation. The golden model of every unit is ``hw.numerics``.
"""
from __future__ import annotations

from ._check import demo_check
from ._decode import (DecodeInfo, ExactProduct, OperandDecoder, decode_info,
                      exact_accumulator_bits, literature_accumulator_bits, operand_format,
                      product_width)
from ._factory import (UNIT_KINDS, Unit, build_mac, build_mxdot, build_pe, build_quantize, build_requant, build_unit,
                       recipe_mac)
from ._mac import DotProductLane, MacUnit, mac_timing
from ._mxdot import BlockScales, MxDotUnit, mxdot_timing
from ._pe import (LINE_ITEMS, MAX_REDUCTION, BlockScale, ExactAligner, MacFormats, MacPe, OutputConverter, ProductRounder,
                  SignificandMultiplier, line_item, recipe_mac_formats)
from ._requant import QuantizeUnit, Requantizer, quantize_timing, requant_timing
from ._round import AccumulatorRounder, FloatAdder, FormatConverter, aligned, output_format
from ._sim import run_stream, simulate_comb
from ._timing import Timing

__all__ = [
    "AccumulatorRounder", "UNIT_KINDS", "Unit", "build_mac", "build_mxdot", "build_quantize",
    "build_requant", "build_unit", "demo_check", "DecodeInfo", "DotProductLane", "ExactProduct", "FloatAdder",
    "FormatConverter", "MacUnit", "MxDotUnit", "OperandDecoder", "QuantizeUnit", "Requantizer", "Timing", "aligned", "decode_info",
    "exact_accumulator_bits", "literature_accumulator_bits", "mac_timing", "mxdot_timing", "operand_format",
    "output_format", "product_width", "quantize_timing", "requant_timing", "run_stream", "simulate_comb",
    "LINE_ITEMS", "MAX_REDUCTION", "BlockScale", "BlockScales", "ExactAligner", "MacFormats", "MacPe", "OutputConverter", "ProductRounder",
    "SignificandMultiplier", "build_pe", "line_item", "recipe_mac", "recipe_mac_formats",
]
