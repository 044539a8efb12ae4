"""The ``lowbit`` command line.

Each subcommand lives in its own module under ``reports.commands`` and provides
``add_arguments(parser)`` and ``run(args) -> int``. User mistakes (``ValueError``,
``TypeError``, ``OSError`` raised while validating input) become one line on stderr and exit
code 2, never a traceback; a failing external tool (``hw.errors.ToolError``) is one line and
exit code 1. A reader that stops early (``lowbit ... | head``) ends the command quietly with
exit code 141 (128 + SIGPIPE, as a Unix tool killed by the broken pipe), not a "Broken pipe"
error.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from hw.errors import ToolError

__all__ = ["main", "COMMANDS", "EXIT_BROKEN_PIPE"]

#: exit code when stdout's reader went away (128 + SIGPIPE)
EXIT_BROKEN_PIPE = 141

#: subcommand name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("reports.commands.demo", "run the built-in default design point end to end"),
    "formats": ("reports.commands.formats", "print the table of number formats and their limits"),
    "nonlinear": ("reports.commands.nonlinear", "integer GELU/softmax/LayerNorm kernels: accuracy table, constants"),
    "simulate": ("reports.commands.simulate", "simulate a model under a recipe on an accelerator: cycles, stats, trace, numerics"),
    "sweep": ("reports.commands.sweep", "run a design-space sweep (TOML spec) on Dask, cached and resumable"),
    "report": ("reports.commands.report", "write a self-contained HTML report of sweep results"),
    "verilog": ("reports.commands.verilog", "write one unit (MAC, dot lane, MX dot, requantizer, ...) as Verilog + metadata JSON"),
    "cost": ("reports.commands.cost", "cost table of MAC units per format from their own RTL (area, energy, FPGA), or --reference"),
    "accuracy": ("reports.commands.accuracy", "accuracy of recipes on a real Hugging Face checkpoint and text vs its float64 forward"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + message, exit 2
        self.exit(2, f"lowbit: error: {message}\n")


def _build_parser(selected: str | None) -> argparse.ArgumentParser:
    """The parser; only the module of the ``selected`` subcommand is imported (fast start-up,
    and one subcommand's heavy imports never slow down another)."""
    parser = _Parser(prog="lowbit", description="Low-bit transformer accelerator model and simulator.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        if name != selected:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=module.__doc__.strip().splitlines()[0])
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lowbit`` console script; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    parser = _build_parser(selected if selected in COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        code = int(args._run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (ValueError, TypeError, OSError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"lowbit: error: {message}", file=sys.stderr)
        return 2
    except ToolError as exc:  # an external tool failed: not the user's mistake, but no traceback either
        print(f"lowbit: tool error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lowbit: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (captured in tests)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
