"""Print the table of number formats and their derived limits.

Columns: name, kind, bits, bias, max, min normal, min subnormal, specials, bits per element
(including amortised block scales). Every figure is derived from the format descriptor.
"""
from __future__ import annotations

import argparse

from hw.formats import HEADLINE_FORMATS, format_table, parse

__all__ = ["add_arguments", "run", "render_formats"]

EXTRA = ("e4m3fnuz", "e5m2fnuz", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxint4", "nvfp4",
         "nf4", "sf4", "apot4", "dint4_d1", "uint4", "int2", "float32", "e8m0fnu")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", help="format names (default: the headline formats and more)")
    parser.add_argument("--csv", metavar="PATH", help="also write the table as CSV")


def render_formats(names) -> str:
    table = format_table([parse(n) for n in names])
    return table.to_string(index=False, float_format=lambda v: f"{v:.6g}")


def run(args: argparse.Namespace) -> int:
    names = args.names or (*HEADLINE_FORMATS, *EXTRA)
    fmts = [parse(n) for n in names]  # validates every name before printing anything
    table = format_table(fmts)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    if args.csv:
        from hw.flow import atomic_write_text

        atomic_write_text(args.csv, table.to_csv(index=False))
    return 0
