"""Zero-delay, cycle-based simulation of a netlist mapped onto a Liberty library, for switching
activity: every net's transitions per cycle and fraction of cycles high.

The netlist of :func:`synthesize_liberty` is compiled into one Python function: each cell's
output is its Liberty ``function`` (``!``/``'`` not, space/``*``/``&`` and, ``+``/``|`` or,
``^`` xor) evaluated in topological order on 0/1 integers; a flip-flop (a Liberty ``ff`` group)
takes ``next_state`` at the end of every cycle (``clear``/``preset`` applied then, as if
synchronous: our units have synchronous resets only). Flip-flops start at 0, ``rst`` is held
at 0 and ``clk`` is not a signal here (the clock's own power is OpenSTA's, from the clock
definition).

What is counted: the settled value of every net once per cycle, so glitches (transitions that
a timed simulation would show inside a cycle) are not counted. The first cycle's transitions
(from the all-zero start) are excluded: activity is averaged over cycles 1 .. N-1.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ToolError, UnitConfigError
from ._liberty import LibCell, LibertySynthesis, library, read_liberty

__all__ = ["NetActivity", "netlist_activity", "liberty_expression"]

_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[01]|[!'()+|*&^])")


def liberty_expression(text: str, names: Mapping[str, str]) -> str:
    """The Liberty boolean ``text`` as a Python expression over 0/1 ints, pins renamed by
    ``names``.

    Raises
    ------
    ToolError
        If ``text`` is not a Liberty boolean expression over the pins of ``names``.
    """
    tokens: list[str] = []
    pos = 0
    stripped = text.strip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if m is None:
            raise ToolError(f"cannot read the Liberty function {text!r} at {stripped[pos:]!r}")
        tokens.append(m.group(1))
        pos = m.end()
    i = 0

    def peek() -> str | None:
        return tokens[i] if i < len(tokens) else None

    def take() -> str:
        nonlocal i
        i += 1
        return tokens[i - 1]

    def primary() -> str:
        t = peek()
        if t == "!":
            take()
            return f"({primary()} ^ 1)"
        if t == "(":
            take()
            e = or_expr()
            if take() != ")":
                raise ToolError(f"unbalanced parentheses in the Liberty function {text!r}")
            out = f"({e})"
        elif t in ("0", "1"):
            out = take()
        elif t is not None and (t[0].isalpha() or t[0] == "_"):
            name = take()
            if name not in names:
                raise ToolError(f"the Liberty function {text!r} reads {name!r}, not a pin of the cell")
            out = names[name]
        else:
            raise ToolError(f"cannot read the Liberty function {text!r}")
        while peek() == "'":
            take()
            out = f"({out} ^ 1)"
        return out

    def and_expr() -> str:
        e = primary()
        while peek() in ("*", "&") or (peek() is not None and peek() not in ("+", "|", "^", ")", "'")):
            if peek() in ("*", "&"):
                take()
            e = f"({e} & {primary()})"
        return e

    def xor_expr() -> str:
        e = and_expr()
        while peek() == "^":
            take()
            e = f"({e} ^ {and_expr()})"
        return e

    def or_expr() -> str:
        e = xor_expr()
        while peek() in ("+", "|"):
            take()
            e = f"({e} | {xor_expr()})"
        return e

    out = or_expr()
    if i != len(tokens):
        raise ToolError(f"cannot read the Liberty function {text!r}")
    return out


@dataclass(frozen=True)
class NetActivity:
    """Result of :func:`netlist_activity`.

    Attributes
    ----------
    cycles : stimulus cycles simulated (activity averages over ``cycles - 1``).
    pins : pin (``c12/Y``) or input port bit (``a[3]``, or ``valid`` for a 1-bit port) ->
        (transitions per cycle, fraction of cycles high).
    outputs : per cycle, output port -> value (unsigned int), as the netlist computed it.
    toggles_per_cycle : sum of the transitions per cycle of all cell outputs.
    """

    cycles: int
    pins: Mapping[str, tuple[float, float]]
    outputs: tuple[Mapping[str, int], ...]
    toggles_per_cycle: float


def _ref(bit: Any) -> str:
    """Python expression of a netlist bit (a net variable or a constant)."""
    if isinstance(bit, int):
        return f"n{bit}"
    return "1" if str(bit) == "1" else "0"


def _topological(comb: list, ready: set[int], top: str) -> list:
    """The combinational cells ``(name, LibCell, connections)`` in an order where every cell
    comes after the drivers of its inputs (``ready``: nets known before any cell, i.e. input
    ports and flip-flop outputs).

    Raises
    ------
    ToolError
        If some cells cannot be ordered (a combinational loop or an undriven net).
    """
    ready = set(ready)
    pending = {c[0]: c for c in comb}
    need = {name: {cn[p] for p in lc.inputs if isinstance(cn.get(p), int)} for name, lc, cn in comb}
    users: dict[int, list[str]] = {}
    for cname, nets in need.items():
        for b in nets:
            users.setdefault(b, []).append(cname)
    missing = {cname: len(nets - ready) for cname, nets in need.items()}
    order, queue = [], [c for c, k in missing.items() if k == 0]
    while queue:
        cname = queue.pop()
        order.append(pending[cname])
        _, lc, conns = pending[cname]
        for p in lc.outputs:
            b = conns.get(p)
            if isinstance(b, int) and b not in ready:
                ready.add(b)
                for u in users.get(b, ()):
                    missing[u] -= 1
                    if missing[u] == 0:
                        queue.append(u)
    if len(order) != len(comb):
        raise ToolError(f"the netlist of {top} has a combinational loop or an undriven net "
                        f"({len(comb) - len(order)} cells cannot be ordered)")
    return order


def _compile(synth: LibertySynthesis, cells: Mapping[str, LibCell]):
    """Source of ``run(stimulus_rows) -> list of per-cycle value tuples`` and what the tuple
    holds: (recorded names, input bits, output port bits)."""
    ports = synth.netlist["ports"]
    comb, ffs = [], []
    for cname, (ctype, conns) in synth.netlist["cells"].items():
        (ffs if cells[ctype].ff is not None else comb).append((cname, cells[ctype], conns))
    ready = {b for _, (d, bits) in ports.items() if d == "input" for b in bits if isinstance(b, int)}
    ready |= {conns[p] for _, lc, conns in ffs for p in lc.outputs if isinstance(conns.get(p), int)}
    order = _topological(comb, ready, synth.top)
    in_bits = [(name, j, b) for name, (d, bits) in ports.items() if d == "input" for j, b in enumerate(bits)
               if isinstance(b, int)]
    recorded: list[str] = []
    body = ["def run(rows):", "    out = []"]
    for k, (_, lc, conns) in enumerate(ffs):
        body.append(f"    s{k} = 0")
    body.append("    for row in rows:")
    if in_bits:
        body.append(f"        {', '.join(f'n{b}' for _, _, b in in_bits)}, = row")
    for name, j, b in in_bits:
        recorded.append(f"{name}[{j}]" if len(ports[name][1]) > 1 else name)
    rec_vars = [f"n{b}" for _, _, b in in_bits]
    for k, (cname, lc, conns) in enumerate(ffs):
        for p, fn in lc.outputs.items():
            b = conns.get(p)
            if not isinstance(b, int):
                continue
            state = lc.ff["state"]
            expr = "s" + str(k) if fn.strip() == state else liberty_expression(fn, {state: f"s{k}"})
            body.append(f"        n{b} = {expr}")
            rec_vars.append(f"n{b}")
            recorded.append(f"{cname}/{p}")
    for cname, lc, conns in order:
        names = {p: _ref(conns.get(p, "x")) for p in lc.inputs}
        for p, fn in lc.outputs.items():
            b = conns.get(p)
            if not isinstance(b, int):
                continue
            body.append(f"        n{b} = {liberty_expression(fn, names)}")
            rec_vars.append(f"n{b}")
            recorded.append(f"{cname}/{p}")
    out_bits = [(name, bits) for name, (d, bits) in ports.items() if d == "output"]
    out_exprs = [_ref(b) for _, bits in out_bits for b in bits]
    body.append(f"        out.append(({', '.join(rec_vars + out_exprs)},))")
    for k, (cname, lc, conns) in enumerate(ffs):
        names = {p: _ref(conns.get(p, "x")) for p in lc.inputs}
        names[lc.ff["state"]] = f"s{k}"
        nxt = liberty_expression(lc.ff["next_state"], names)
        if "clear" in lc.ff:
            nxt = f"(0 if {liberty_expression(lc.ff['clear'], names)} else {nxt})"
        if "preset" in lc.ff:
            nxt = f"(1 if {liberty_expression(lc.ff['preset'], names)} else {nxt})"
        body.append(f"        s{k}_next = {nxt}")
    for k in range(len(ffs)):
        body.append(f"        s{k} = s{k}_next")
    body.append("    return out")
    return "\n".join(body) + "\n", recorded, in_bits, out_bits


def netlist_activity(synth: LibertySynthesis, *, stimulus: Sequence[Mapping[str, int]]) -> NetActivity:
    """Simulate ``synth`` on ``stimulus`` (one ``{input port: int}`` per cycle; missing ports,
    ``rst`` included, are 0; negative values are taken in two's complement) and measure the
    activity of every net (see the module docstring).

    Raises
    ------
    UnitConfigError
        If the stimulus has fewer than 2 cycles or names a port the netlist does not have.
    ToolError
        If a cell function cannot be read or the netlist cannot be ordered.
    """
    if len(stimulus) < 2:
        raise UnitConfigError(f"stimulus must have at least 2 cycles, not {len(stimulus)}")
    cells = read_liberty(str(library(synth.library).path()))
    src, recorded, in_bits, out_bits = _compile(synth, cells)
    inputs = {n for n, (d, _) in synth.netlist["ports"].items() if d == "input"}
    rows = []
    for t, cyc in enumerate(stimulus):
        bad = set(cyc) - inputs
        if bad:
            raise UnitConfigError(f"stimulus cycle {t} must drive input ports of {synth.top}, not {sorted(bad)!r}")
        rows.append(tuple((int(cyc.get(name, 0)) >> j) & 1 for name, j, _ in in_bits))
    namespace: dict[str, Any] = {}
    exec(compile(src, f"<netlist {synth.top}>", "exec"), namespace)  # generated from the netlist
    values = np.array(namespace["run"](rows), dtype=np.uint8)
    n_rec = len(recorded)
    rec = values[:, :n_rec]
    toggles = (rec[1:] != rec[:-1]).sum(axis=0) / (len(rows) - 1)
    duty = rec[1:].mean(axis=0)
    pins = {name: (float(a), float(d)) for name, a, d in zip(recorded, toggles, duty)}
    outs = values[:, n_rec:]
    outputs, col = [], 0
    widths = [(name, len(bits)) for name, bits in out_bits]
    for row in outs:
        vals, col = {}, 0
        for name, w in widths:
            vals[name] = int(sum(int(v) << j for j, v in enumerate(row[col:col + w])))
            col += w
        outputs.append(vals)
    cell_toggles = sum(a for name, (a, _) in pins.items() if "/" in name)
    return NetActivity(cycles=len(rows), pins=pins, outputs=tuple(outputs), toggles_per_cycle=cell_toggles)
