"""Print the table of number formats and their derived limits.

Columns: name, kind, bits, block (elements sharing one scale; blank for element formats), bias,
max, min normal, min subnormal, specials, bits per element (including amortised block scales).
Every figure is derived from the format descriptor (``hw.formats.format_table``); for a block
format max, min normal and min subnormal are all of the scaled values (element limit x the
largest or smallest scale), so the three are comparable. Notes under the table explain the names
that differ only in their special values (``e4m3`` IEEE-style with infinities, max 240, vs
``e4m3fn`` OCP FP8 without, max 448).
"""
from __future__ import annotations

import argparse

import pandas as pd

from hw.formats import HEADLINE_FORMATS, BlockFormat, FloatFormat, format_table, parse

__all__ = ["add_arguments", "run", "render_formats", "formats_frame", "format_notes"]

EXTRA = ("e4m3", "e4m3fnuz", "e5m2fnuz", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxint4", "nvfp4",
         "nf4", "sf4", "apot4", "dint4_d1", "uint4", "int2", "float32", "e8m0fnu")
SUFFIXES = {"": "IEEE-style: the top exponent holds inf and NaN",
            "fn": "finite (OCP FP8/MX): no inf, the top exponent holds numbers except the NaN code S.1111.111",
            "fnuz": "finite, unsigned zero: no -0, its code is the only NaN (bias one larger)"}


def formats_frame(fmts) -> pd.DataFrame:
    """``format_table`` of ``fmts`` with a ``block`` column and block formats' min normal scaled
    like their max and min subnormal (element min normal x the smallest scale)."""
    table = format_table(fmts).copy()
    table.insert(table.columns.get_loc("bits") + 1, "block",
                 [str(f.block_size) if isinstance(f, BlockFormat) else "" for f in fmts])
    for i, f in enumerate(fmts):
        if isinstance(f, BlockFormat):
            smallest_scale = table.loc[i, "min_subnormal"] / f.element.min_subnormal
            table.loc[i, "min_normal"] = f.element.min_normal * smallest_scale
    return table


def format_notes(fmts) -> list[str]:
    """One note per ExMy family shown under several special-value policies (e.g. ``e4m3`` vs
    ``e4m3fn``): what each suffix means and the max it gives, derived from the descriptors."""
    families: dict[tuple[int, int], list] = {}
    for f in fmts:
        if isinstance(f, FloatFormat):
            families.setdefault((f.exp_bits, f.man_bits), []).append(f)
    notes = []
    for (e, m), group in families.items():
        if len({str(f) for f in group}) < 2:
            continue
        parts = []
        for f in group:
            suffix = str(f)[len(f"e{e}m{m}"):] if str(f).startswith(f"e{e}m{m}") else None
            meaning = SUFFIXES.get(suffix, f"specials: {f.specials_text}") if suffix is not None else \
                f"specials: {f.specials_text}"
            parts.append(f"{f} ({meaning}; max {f.max:g})")
        notes.append(f"note: E{e}M{m} in {len(group)} variants: " + "; ".join(parts))
    return notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", help="format names (default: the headline formats and more)")
    parser.add_argument("--csv", metavar="PATH", help="also write the table as CSV")


def render_formats(names) -> str:
    fmts = [parse(n) for n in names]
    text = formats_frame(fmts).to_string(index=False, float_format=lambda v: f"{v:.6g}", na_rep="")
    return "\n".join([text, *format_notes(fmts)])


def run(args: argparse.Namespace) -> int:
    names = args.names or (*HEADLINE_FORMATS, *EXTRA)
    fmts = [parse(n) for n in names]  # validates every name before printing anything
    if args.csv:
        from ._checks import check_output_file

        check_output_file(args.csv, "--csv")
    table = formats_frame(fmts)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.6g}", na_rep=""))
    for note in format_notes(fmts):
        print(note)
    if args.csv:
        from hw.flow import atomic_write_text

        atomic_write_text(args.csv, table.to_csv(index=False))
    return 0
