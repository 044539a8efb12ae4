"""Write a self-contained HTML report (plots embedded, no network) of a finished sweep.

RESULTS is the output folder of ``lowbit sweep``; the plots are also written as separate SVG
and PNG files under ``<out>/plots/``.
"""
from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", metavar="RESULTS", help="output folder of `lowbit sweep`")
    parser.add_argument("-o", "--out", default="report", help="report folder (default: report)")
    parser.add_argument("--title", default=None, help="page title")


def run(args: argparse.Namespace) -> int:
    from reports.sweep import write_report

    page = write_report(args.results, args.out, title=args.title)
    print(f"report: {page}")
    return 0
