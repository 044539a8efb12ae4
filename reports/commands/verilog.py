"""Write the Verilog of one unit (MAC, dot-product lane, MX block dot, requantizer, quantizer, or a
nonlinear kernel unit) and a JSON metadata file beside it.

Examples::

    lowbit verilog mac --a e4m3fn --b e4m3fn --acc exact --out-format fp32 --lanes 8 -o out/
    lowbit verilog mxdot --a mxfp4 --b mxfp8_e4m3 -o out/
    lowbit verilog requant --in-format int32 --out-format int8 --rounding half_even -o out/
    lowbit verilog ivit_shiftmax --param x_bits=8 --param length=16 --param x0_int=-59 -o out/

The module is named from the parameters (``mac_e4m3fn_e4m3fn_exact_float32_l8``); the JSON holds
ports, widths, formats, latency, initiation interval and the SHA-256 of the Verilog.
"""
from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("unit", metavar="UNIT",
                        help="mac, dot, mxdot, requant, quantize, or a nonlinear kernel unit "
                             "(ivit_shiftmax, ivit_shiftgelu, ibert_int_gelu, ivit_int_layernorm)")
    parser.add_argument("--a", help="A operand format (mac, dot, mxdot)")
    parser.add_argument("--b", help="B operand format (mac, dot, mxdot)")
    parser.add_argument("--acc", default="exact", help="accumulator: exact or fp32/fp16/bf16 (default exact)")
    parser.add_argument("--out-format", help="output format (default float32; int8 for requant)")
    parser.add_argument("--lanes", type=int, help="products per cycle, a power of two (default 1 for mac, 8 for dot)")
    parser.add_argument("--max-k", type=int, default=4096, help="longest reduction (default 4096)")
    parser.add_argument("--pipeline", type=int, default=0, help="extra register stages (default 0)")
    parser.add_argument("--overflow", default="default", help="integer output overflow: saturate or wrap")
    parser.add_argument("--in-format", default="int32", help="requant input format (default int32)")
    parser.add_argument("--rounding", default="half_even", help="requant rounding: half_even, half_up, floor")
    parser.add_argument("--multiplier-bits", type=int, default=32, help="requant multiplier width")
    parser.add_argument("--max-shift", type=int, default=63, help="requant largest shift")
    parser.add_argument("--min-shift", type=int, default=0, help="requant smallest shift (negative: exact left shift)")
    parser.add_argument("--src", default="float32", help="quantize source format")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=INT",
                        help="a nonlinear unit parameter (repeatable)")
    parser.add_argument("-o", "--out-dir", required=True, metavar="DIR", help="output folder")
    # array (hw.arrays): lowbit verilog array --rows 4 --cols 4 --dataflow ws --a int8 -o out/
    parser.add_argument("--rows", type=int, help="array: PE rows")
    parser.add_argument("--cols", type=int, help="array: PE columns")
    parser.add_argument("--dataflow", default="ws", help="array: ws or os (default ws)")
    parser.add_argument("--max-m", type=int, default=4096, help="array: longest A stream of a WS tile (default 4096)")
    parser.add_argument("--double-buffer", action="store_true", help="array: WS weight double buffering")


def _need(args: argparse.Namespace, *names: str) -> None:
    for n in names:
        if getattr(args, n) is None:
            raise ValueError(f"--{n.replace('_', '-')} must be given for a {args.unit} unit, not omitted")


def _params(items: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = int(value)
        except ValueError:
            raise ValueError(f"--param must be KEY=INTEGER, not {item!r}") from None
        if not sep or not key.strip():
            raise ValueError(f"--param must be KEY=INTEGER, not {item!r}")
    return out


def run(args: argparse.Namespace) -> int:
    from hw.flow import export_verilog
    from hw.units import build_unit

    kind = args.unit
    if kind == "array":
        from hw.arrays import build_array

        _need(args, "a", "rows", "cols")
        unit = build_array(rows=args.rows, cols=args.cols, dataflow=args.dataflow, a_format=args.a,
                           b_format=args.b, acc=args.acc, out_format=args.out_format, max_m=args.max_m,
                           max_k=args.max_k, double_buffer=args.double_buffer, pipeline=args.pipeline)
        res = export_verilog(unit.component, name=unit.name, out_dir=args.out_dir, metadata=unit.metadata)
        print(f"{res.verilog_path}  ({unit.name}, timing hw.arrays.tile_cycles)")
        print(f"{res.metadata_path}")
        return 0
    if kind in ("mac", "dot"):
        _need(args, "a", "b")
        unit = build_unit(kind, a=args.a, b=args.b, acc=args.acc, out=args.out_format or "float32",
                          lanes=args.lanes if args.lanes is not None else (1 if kind == "mac" else 8),
                          max_k=args.max_k, pipeline=args.pipeline, overflow=args.overflow)
    elif kind == "mxdot":
        _need(args, "a", "b")
        unit = build_unit(kind, a=args.a, b=args.b, out=args.out_format or "float32", pipeline=args.pipeline)
    elif kind == "requant":
        unit = build_unit(kind, in_format=args.in_format, out=args.out_format or "int8",
                          multiplier_bits=args.multiplier_bits, max_shift=args.max_shift, min_shift=args.min_shift,
                          rounding=args.rounding, pipeline=args.pipeline)
    elif kind == "quantize":
        _need(args, "out_format")
        unit = build_unit(kind, src=args.src, dst=args.out_format)
    else:
        unit = build_unit(kind, **_params(args.param))
    res = export_verilog(unit.component, name=unit.name, out_dir=args.out_dir, metadata=unit.metadata)
    lat = unit.metadata.get("latency_cycles")
    print(f"{res.verilog_path}  ({unit.name}, latency {lat} cycles)")
    print(f"{res.metadata_path}")
    return 0
