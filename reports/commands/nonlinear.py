"""Integer nonlinear kernels (I-BERT / I-ViT): their accuracy table, or a unit's constants.

Integer nonlinear kernels (I-BERT / I-ViT): accuracy table against float64, or the constants a
unit is configured with for an input scale.

``lowbit nonlinear --accuracy [--csv PATH]`` prints max/mean absolute error per kernel, input
scale and bit width; ``lowbit nonlinear --consts NAME --scale S`` prints the float32-derived
constants as JSON. The accuracy table's working memory is estimated before it starts (about
``BYTES_PER_VALUE`` bytes per row element, measured with tracemalloc on the default kernels) and
a request over ``MAX_VALUES`` row elements per point is refused.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from hw.nonlinear import ACCURACY_KERNELS, KERNELS, accuracy_markdown, accuracy_table, consts_from_scale

__all__ = ["BYTES_PER_VALUE", "MAX_VALUES", "add_arguments", "run"]

#: peak working memory per row element of one (scale, bits) point, bytes (tracemalloc: ~325)
BYTES_PER_VALUE = 330
#: the most row elements (--rows x --length) one point may hold: about 1.4 GB of working memory
MAX_VALUES = 1 << 22


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lowbit nonlinear``."""
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--accuracy", action="store_true", help="print the accuracy table")
    what.add_argument("--consts", metavar="NAME", choices=sorted(k for k in KERNELS if k != "dyadic_requant"),
                      help="print the constants of kernel NAME for --scale")
    parser.add_argument("--scale", type=float, action="append", metavar="S",
                        help="input scale (repeatable; accuracy default 0.1 0.05 0.02 0.01 0.002)")
    parser.add_argument("--bits", type=int, action="append", metavar="B",
                        help="input bit width (repeatable; default 8 and 16)")
    parser.add_argument("--length", type=int, default=64, help="row length for --accuracy (default 64)")
    parser.add_argument("--rows", type=int, default=64, help="random rows per point (default 64)")
    parser.add_argument("--csv", metavar="PATH", help="also write the accuracy table as CSV")
    parser.add_argument("--markdown", metavar="PATH", help="also write the accuracy tables as Markdown "
                        "(docs/nonlinear_accuracy.md is made this way)")


def run(args: argparse.Namespace) -> int:
    """Run ``lowbit nonlinear``; returns the exit code."""
    if args.consts:
        if not args.scale or len(args.scale) != 1:
            raise ValueError(f"--consts needs exactly one --scale, not {args.scale!r}")
        if args.consts.endswith("layernorm"):
            raise ValueError(f"--consts {args.consts} needs weight and bias; use hw.nonlinear.consts_from_scale")
        print(json.dumps(consts_from_scale(args.consts, args.scale[0], length=args.length), indent=2))
        return 0
    if args.rows < 1 or args.length < 2:
        raise ValueError(f"--rows must be at least 1 and --length at least 2, not {args.rows!r} and {args.length!r}")
    values = args.rows * args.length
    if values > MAX_VALUES:
        raise ValueError(f"--rows x --length must be at most {MAX_VALUES} values per point (about "
                         f"{MAX_VALUES * BYTES_PER_VALUE / 1e9:.1f} GB of working memory at {BYTES_PER_VALUE} bytes "
                         f"per value), not {values} ({args.rows} x {args.length}: about "
                         f"{values * BYTES_PER_VALUE / 1e9:.3g} GB)")
    if args.csv:
        from ._checks import check_output_file

        check_output_file(args.csv, "--csv")
    kwargs = {}
    if args.scale:
        kwargs["scales"] = tuple(args.scale)
    if args.bits:
        kwargs["bits"] = tuple(args.bits)
    table = accuracy_table(length=args.length, rows=args.rows, kernels=ACCURACY_KERNELS, **kwargs)
    with pd.option_context("display.width", 200, "display.max_rows", None,
                           "display.float_format", "{:.6g}".format):
        print(table.to_string(index=False))
    if args.csv:
        table.to_csv(args.csv, index=False)
    if args.markdown:
        cmd = "lowbit nonlinear --accuracy" + "".join(f" --scale {v}" for v in args.scale or ()) + \
            "".join(f" --bits {b}" for b in args.bits or ()) + f" --length {args.length} --rows {args.rows}"
        tmp = Path(args.markdown).with_name(Path(args.markdown).name + ".tmp")
        tmp.write_text(accuracy_markdown(table, command=cmd + " --markdown " + args.markdown,
                                         rows=args.rows, length=args.length), encoding="utf-8")
        tmp.replace(args.markdown)
    return 0
