"""The self-sufficient description of an exported module: what the ``<name>.json`` beside the
Verilog says, in the one shape ``export.schema.json`` defines for every unit and array.

Ports (name, direction, width, signedness, declared value range, lane/field layout with bit
offsets) are derived from the Verilog's own port list and the component's Amaranth signature
(``ArrayLayout`` -> lanes, lane 0 in the least significant bits; ``StructLayout`` -> fields at
their offsets; ``range(...)`` shapes -> value ranges), never restated per unit. What a port
*means* (which number format a lane holds, what a flag bit says, which values are legal) is the
part a signature cannot tell; it comes from ``_port_meanings`` below, keyed by the unit kind and
filled in from the unit's parameters. Clock and reset follow Amaranth's ``sync`` domain (rising
edge, active-high synchronous reset); the handshake from the protocol the ports implement (for a
chained array, also how its tiles overlap: ``timing.chained_tiles``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

from amaranth.hdl import Shape
from amaranth.lib import data, wiring

from ..errors import UnitConfigError
from ..formats import FloatFormat, IntFormat, LookupFormat, ScaleFormat, parse

__all__ = ["SCHEMA_ID", "UNIT_KINDS", "describe_export", "documented", "format_encoding", "protocol_of"]

#: the ``$id`` of the schema every export's JSON follows (``export.schema.json``)
SCHEMA_ID = "https://lowbit.dev/schemas/export-1.json"

_LANE_ORDER = "lane i occupies bits [i*lane_bits, (i+1)*lane_bits): lane 0 in the least significant bits"


# ---- encodings of leaf values ------------------------------------------------------------------

def format_encoding(fmt) -> dict[str, Any]:
    """How a code of ``fmt`` is laid out in its bits (a JSON-ready dict)."""
    f = parse(fmt) if isinstance(fmt, str) else fmt
    out: dict[str, Any] = {"format": str(f), "kind": f.kind, "bits": f.bits}
    if isinstance(f, IntFormat):
        out.update(representation="twos_complement" if f.signed else "unsigned", frac_bits=f.frac_bits,
                   symmetric=f.symmetric,
                   value="code * 2**-frac_bits" + (" (the code -2**(bits-1) is not used)" if f.symmetric else ""))
    elif isinstance(f, FloatFormat):
        out.update(representation="sign_exponent_mantissa", sign_bit=f.bits - 1, exp_bits=f.exp_bits,
                   man_bits=f.man_bits, bias=f.bias, specials=f.specials, specials_text=f.specials_text,
                   nan_rule={"ieee": "exponent all ones and mantissa not zero",
                             "fn": "exponent and mantissa all ones (either sign)",
                             "fnuz": "the code 1 << (bits-1) (negative zero's code)",
                             "none": "no NaN code"}.get(f.specials, f.specials),
                   max=f.max)
    elif isinstance(f, ScaleFormat):
        out.update(representation="biased_exponent", exp_bits=f.exp_bits, bias=f.bias, nan_code=f.nan_code,
                   value="2**(code - bias); the code nan_code is NaN")
    elif isinstance(f, LookupFormat):
        out.update(representation="lookup", values=[float(v) for v in f.values], value="values[code]")
    else:
        out.update(representation=f.kind)
    return out


def _integer(width_signed: bool, what: str) -> dict[str, Any]:
    return {"representation": "twos_complement" if width_signed else "unsigned", "value": what}


def _flag(meaning: str) -> dict[str, Any]:
    return {"representation": "flag", "value": meaning}


Leaf = tuple[dict[str, Any], str]  # (encoding, meaning)


# ---- protocols ---------------------------------------------------------------------------------

def protocol_of(names: set[str]) -> str:
    """The handshake a set of port names implements: "tile", "valid_ready" or "stream"."""
    if {"start", "busy", "done"} <= names:
        return "tile"
    if {"i__valid", "i__ready", "o__valid", "o__ready"} <= names:
        return "valid_ready"
    if {"valid", "out_valid"} <= names:
        return "stream"
    raise UnitConfigError(f"ports must implement a known handshake (start/busy/done, i/o valid/ready, "
                          f"or valid/out_valid), not {sorted(names)!r}")


_CONTROL = {
    "stream": {
        "valid": "input beat: the data inputs are taken at the rising edge where valid is high "
                 "(no back-pressure: the unit takes a beat every cycle valid is high)",
        "first": "with valid: this beat starts a new reduction (the accumulator restarts from it)",
        "last": "with valid: this beat ends the reduction; its result follows latency_cycles later",
        "out_valid": "high for exactly one cycle per result, with the result: the cycle after the "
                     "latency_cycles-th rising edge, counting the edge that takes the reduction's last beat "
                     "(or the unit's only beat) as the first",
    },
    "valid_ready": {
        "i__valid": "input stream valid: an element transfers at a rising edge where i__valid and i__ready are high",
        "i__ready": "the unit can take an input element this cycle",
        "o__valid": "output stream valid: o__payload holds an element; it transfers when o__ready is high too",
        "o__ready": "the consumer takes the output element this cycle (back-pressure when low)",
    },
    "tile": {
        "start": "command: sampled at a rising edge while busy is low; tile_m/tile_k/tile_n (and pre/pre_k) "
                 "are sampled with it",
        "busy": "high from the cycle after start was sampled until the cycle after done",
        "done": "high for one cycle, together with the last output row of the tile",
        "a_req": "the array samples a_data (and a_psum) at this rising edge: present row/column a_index "
                 "combinationally (first-word-fall-through buffer)",
        "a_index": "which row (WS) or column (OS) of the A tile a_data must hold while a_req is high",
        "b_req": "the array samples b_data at this rising edge: present row b_index of B",
        "b_index": "which row of the B tile b_data must hold while b_req is high",
        "b_next": "with b_req: b_index indexes the next tile's B (weight prefetch of a double-buffered array)",
        "c_valid": "c_data (and c_acc) hold output row c_index in this cycle",
        "c_index": "which output row c_data holds while c_valid is high",
        "pre": "with start: prefetch the next tile's weights (pre_k rows of B) during this tile",
    },
}


# ---- port meanings by unit kind ---------------------------------------------------------------------

def _fmt(p: Mapping[str, Any], key: str, meaning: str) -> Leaf:
    return format_encoding(p[key]), meaning


def _stream_unit(p: Mapping[str, Any]) -> dict[str, Any]:
    out = {"a": _fmt(p, "a_format", "A operand code (one per lane)"),
           "b": _fmt(p, "b_format", "B operand code (one per lane)"),
           "out": _fmt(p, "out_format", "the reduction's result code, rounded once (RNE) to out_format")}
    if p.get("unit") == "mxdot":
        out["a"] = _fmt(p, "a_element", "A block element code (one per lane; block_size lanes)")
        out["b"] = _fmt(p, "b_element", "B block element code (one per lane; block_size lanes)")
        out["a_scale"] = _fmt(p, "a_scale", "the A block's shared scale code")
        out["b_scale"] = _fmt(p, "b_scale", "the B block's shared scale code")
        out["out"] = _fmt(p, "out_format", "the block dot product sum(a*b) * 2**(sa+sb) rounded to out_format")
    return out


def _requant(p: Mapping[str, Any]) -> dict[str, Any]:
    return {"value": _fmt(p, "in_format", "the integer to requantize"),
            "multiplier": (_integer(False, "M: the dyadic scale is M * 2**-shift"),
                           f"multiplier M, {p.get('multiplier_bits')} bits unsigned"),
            "shift": (_integer(p.get("min_shift", 0) < 0, "the dyadic scale's shift"),
                      f"shift, legal {p.get('min_shift', 0)}..{p.get('max_shift')}"),
            "out": _fmt(p, "out_format", f"round(value * M * 2**-shift) ({p.get('rounding')}), saturated")}


def _quantize(p: Mapping[str, Any]) -> dict[str, Any]:
    return {"a": _fmt(p, "src", "the source value code"),
            "code": _fmt(p, "dst", "the value rounded (RNE) to the destination format")}


def _nonlinear(p: Mapping[str, Any]) -> dict[str, Any]:
    q = p.get("params", {})
    x: Any = ({"representation": "twos_complement",
               "value": f"x_int, one element of a row of {q.get('length')} (integer at the input scale)"},
              "input element")
    if q.get("gated"):  # SwiGLU: a (gate, up) pair per element
        x = {"gate": (x[0], "gate element (the SiLU input)"),
             "up": ({"representation": "twos_complement", "value": "up_int, the up projection's element"},
                    "up element (multiplies SiLU(gate))")}
    return {"i__payload": x,
            "o__payload": ({"representation": "twos_complement",
                            "value": f"the {p.get('kernel')} golden model's output element ({p.get('variant')} variant)"},
                           "output element"),
            "row_error": (_flag("high while the outputs of a zero-variance row (which the golden model rejects) "
                                "are offered"), "zero-variance row")}


def _array(p: Mapping[str, Any]) -> dict[str, Any]:
    from ..formats import BlockFormat

    a, b = parse(p["a_format"]), parse(p["b_format"])
    lim = p["tile_limits"]
    ws = p["dataflow"] == "ws"
    out: dict[str, Any] = {}
    for which, f in (("a", a), ("b", b)):
        q = p.get("packing", 1)
        if q == 1:
            role = ("row a_index of A (lane i = A[row, k0 + i])" if ws else
                    "column a_index of A (lane i = A[m0 + i, col])") \
                if which == "a" else "row b_index of B (lane j = B[row, n0 + j])"
        else:  # packed PEs: every lane holds q consecutive K elements, element e in bits [e*w, (e+1)*w)
            role = (f"row a_index of A (lane i, element e = A[row, k0 + {q}*i + e])" if ws else
                    f"packed column a_index of A (lane i, element e = A[m0 + i, k0 + {q}*a_index + e])") \
                if which == "a" else f"packed row b_index of B (lane j, element e = B[k0 + {q}*b_index + e, n0 + j])"
        if isinstance(f, BlockFormat):
            out[f"{which}_data"] = {"_doc": f"{role}: per lane an element code and its block's scale code",
                                    "code": (format_encoding(f.element), f"element code of {role}"),
                                    "scale": (format_encoding(f.scale), "the scale code of the element's block")}
        else:
            out[f"{which}_data"] = (format_encoding(f), role + "; unused lanes may hold any finite code (zero)")
    out["c_data"] = (format_encoding(p["out_format"]), "output code of row c_index, lane j = C[row, n0 + j]")
    if p["acc"] == "exact":
        acc = {"value": ({"representation": "twos_complement", "fixed_point_lsb_exp": p["product_lsb_exp"],
                          "value": f"the exact partial sum = value * 2**{p['product_lsb_exp']}"},
                         f"exact fixed-point partial sum ({p['accumulator_bits']} bits, holds max_k={p['max_k']} products)"),
               "nan": (_flag("sticky: a NaN product (or NaN operand) entered this sum"), "NaN seen"),
               "pinf": (_flag("sticky: a +inf product entered this sum"), "+inf seen"),
               "ninf": (_flag("sticky: a -inf product entered this sum"), "-inf seen"),
               "plus_zero": (_flag("sticky: a product other than -0 entered this sum (all zero: the empty sum)"),
                             "non-(-0) product seen")}
        rule = ("rounded at the edge: nan or (pinf and ninf) -> NaN; else pinf -> +inf; ninf -> -inf; "
                "else value rounded once to out_format (an exactly-zero value is -0 iff plus_zero is low)")
        acc["value"] = (acc["value"][0] | {"rounding": rule}, acc["value"][1])
    else:
        acc = (format_encoding(p["acc"]), "the float accumulator code (each product rounded to it and added)")
    if ws:
        doc = (" (lane j: column j's exact partial sum and its sticky flags)" if isinstance(acc, dict)
               else " (lane j: column j's float accumulator code)")
        out["a_psum"] = {**acc, "_doc": "partial sums entering row a_index's outputs: zeros (the empty sum) on "
                                        "the first K fold, or the previous K fold's c_acc" + doc} \
            if isinstance(acc, dict) else \
            (acc[0], "partial sums entering row a_index's outputs: the empty sum on the first K fold (the code of "
                     "-0 in every lane, the IEEE additive identity, so a sum of -0 products stays -0), or the "
                     "previous K fold's c_acc" + doc)
        out["c_acc"] = {**acc, "_doc": "the unrounded accumulators of output row c_index (the next K fold's "
                                       "a_psum)" + doc} if isinstance(acc, dict) else \
            (acc[0], "the unrounded accumulators of output row c_index (the next K fold's a_psum)" + doc)
    out["tile_m"] = ({"representation": "unsigned", "legal_min": 1, "legal_max": lim["m"]},
                     f"rows of the tile's output (M), legal 1..{lim['m']}; 0 and larger values are not allowed")
    out["tile_k"] = ({"representation": "unsigned", "legal_min": 1, "legal_max": lim["k"]},
                     f"reduction length of the tile (K), legal 1..{lim['k']}; 0 and larger values are not allowed")
    out["tile_n"] = ({"representation": "unsigned", "legal_min": 1, "legal_max": lim["n"]},
                     f"columns of the tile's output (N), legal 1..{lim['n']}; 0 and larger values are not allowed")
    if p.get("double_buffer"):
        out["pre_k"] = ({"representation": "unsigned", "legal_min": 1, "legal_max": lim["k"]},
                        f"rows of the next tile's B to prefetch, legal 1..{lim['k']} (when pre is high)")
    return out


_MEANINGS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "mac": _stream_unit, "dot": _stream_unit, "mxdot": _stream_unit, "requant": _requant,
    "quantize": _quantize, "array": _array,
}


#: unit kinds whose ports are documented (besides the nonlinear kernels, named by ``kernel``)
UNIT_KINDS = tuple(_MEANINGS)


def documented(params: Mapping[str, Any]) -> bool:
    """Whether unit metadata ``params`` names a kind whose ports are documented here."""
    kind = params.get("unit")
    return isinstance(params.get("kernel"), str) or (isinstance(kind, str) and kind in _MEANINGS)


def _port_meanings(params: Mapping[str, Any]) -> dict[str, Any]:
    if "kernel" in params:
        return _nonlinear(params)
    kind = params.get("unit")
    if kind not in _MEANINGS:
        raise UnitConfigError(f"unit kind must be one of {sorted(_MEANINGS)} or a nonlinear kernel, not {kind!r}")
    return _MEANINGS[kind](params)


# ---- layouts -----------------------------------------------------------------------------------------

def _layout(shape, meaning, path: str) -> dict[str, Any]:
    """The layout of a port or field of ``shape`` (Amaranth shape or layout) with its meaning."""
    if isinstance(shape, data.ArrayLayout):
        elem = _layout(shape.elem_shape, meaning, path + "[i]")
        return {"kind": "array", "lanes": shape.length, "lane_bits": Shape.cast(shape.elem_shape).width
                if not isinstance(shape.elem_shape, data.Layout) else shape.elem_shape.size,
                "order": _LANE_ORDER, "element": elem}
    if isinstance(shape, data.StructLayout):
        fields = []
        for name, field in shape:
            sub = meaning.get(name) if isinstance(meaning, dict) else None
            if sub is None:
                raise UnitConfigError(f"field {path}.{name} must have a documented meaning, not none")
            f = _layout(field.shape, sub, f"{path}.{name}")
            fields.append({"name": name, "offset": field.offset, "width": Shape.cast(field.shape).width
                           if not isinstance(field.shape, data.Layout) else field.shape.size, **f})
        return {"kind": "struct", "fields": fields}
    if not isinstance(meaning, tuple):
        raise UnitConfigError(f"port {path} must have a documented meaning, not {meaning!r}")
    encoding, text = meaning
    s = Shape.cast(shape)
    enc = dict(encoding)
    if enc.get("representation") in ("twos_complement", "unsigned") and "format" not in enc:
        enc["representation"] = "twos_complement" if s.signed else "unsigned"
    out = {"kind": "scalar", "encoding": enc, "meaning": text}
    if isinstance(shape, range):
        out["declared_range"] = {"min": shape.start, "max": shape.stop - 1}
    return out


def _summary(lay: Mapping[str, Any]) -> str:
    """A port's description from its layout: the meaning of its (innermost) lane, or its fields."""
    while lay["kind"] == "array":
        lay = lay["element"]
    if lay["kind"] == "scalar":
        return lay["meaning"]
    return "fields " + ", ".join(f"{f['name']} ({f.get('meaning', f['kind'])})" for f in lay["fields"])


def _member_table(component: wiring.Component) -> dict[str, Any]:
    return {"__".join(str(p) for p in path): member
            for path, member in component.signature.members.flatten() if member.is_port}


def _cycle_formula(params: Mapping[str, Any]) -> dict[str, Any]:
    """One tile's cycles as ``c0 + cm*m + ck*k + cn*n``, the coefficients read off
    ``hw.arrays.tile_cycles`` for the exported size (and checked at the tile limits)."""
    from ..arrays import tile_cycles

    R, C, df, P = params["rows"], params["cols"], params["dataflow"], params.get("pipeline", 0)
    Q = params.get("packing", 1)  # packed PEs: affine in ceil(k / Q), the K steps (H4's edit)
    lim = dict(params["tile_limits"], k=-(-params["tile_limits"]["k"] // Q))

    def t(m: int, k: int, n: int):
        return tile_cycles(rows=R, cols=C, dataflow=df, m=m, k=k * Q, n=n, pe_pipeline=P, packing=Q)

    base = t(1, 1, 1)
    coef = {}
    for d in "mkn":
        if lim[d] < 2:
            coef[d] = 0
            continue
        step = t(*(2 if x == d else 1 for x in "mkn"))
        coef[d] = {"total": step.total - base.total, "weight_load": step.weight_load - base.weight_load}
    c = {part: {d: (coef[d][part] if coef[d] else 0) for d in "mkn"} for part in ("total", "weight_load")}
    const = {part: getattr(base, part) - sum(c[part].values()) for part in ("total", "weight_load")}
    top = t(lim["m"], lim["k"], lim["n"])
    for part in ("total", "weight_load"):
        got = const[part] + sum(c[part][d] * lim[d] for d in "mkn")
        if got != getattr(top, part):
            raise UnitConfigError(f"tile {part} cycles must be affine in m, k, n, not {got} != {getattr(top, part)}")
    var = {"m": "m", "k": "k" if Q == 1 else f"ceil(k/{Q})", "n": "n"}
    text = " + ".join([str(const["total"])] + [f"{c['total'][d]}*{var[d]}" for d in "mkn" if c["total"][d]])
    return {"expression": f"total = {text}", "packing": Q, "k_term": var["k"],
            "constant": const["total"], "m": c["total"]["m"], "k": c["total"]["k"], "n": c["total"]["n"],
            "weight_load": {"constant": const["weight_load"], "m": c["weight_load"]["m"],
                            "k": c["weight_load"]["k"], "n": c["weight_load"]["n"]},
            "meaning": "cycles of one tile of m x k x n within the tile limits (the k coefficient multiplies "
                       "k_term: k, or ceil(k/packing) for packed PEs): start is sampled in cycle 0, "
                       "done is high in cycle total-1, the next start can be sampled in cycle total. "
                       "Back-to-back tiles take the sum. A double-buffered array's prefetched tile "
                       "takes total - weight_load.",
            "source": "hw.arrays.tile_cycles"}


def _timing(protocol: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if protocol == "stream":
        return {"latency_cycles": params["latency_cycles"], "initiation_interval": params["initiation_interval"],
                "latency_meaning": "the result shows (out_valid high) in the cycle after the latency_cycles-th "
                                   "rising edge, counting the edge that takes the last beat as the first (latency 1: "
                                   "the cycle right after that edge)",
                "initiation_interval_meaning": "cycles between beats; a new reduction may start on the cycle after last"}
    if protocol == "valid_ready":
        t = params["timing"]
        return {"latency_cycles": t["latency_cycles"], "initiation_interval": t["cycles_per_row"],
                "latency_meaning": "cycles from the first input element of a row to its first output element "
                                   "(no stalls)",
                "initiation_interval_meaning": "cycles per row (a row of length elements) without stalls"}
    formula = _cycle_formula(params)
    smallest = formula["constant"] + formula["m"] + formula["k"] + formula["n"]
    out = {"latency_cycles": smallest, "initiation_interval": 1,
           "latency_meaning": "cycles of the smallest tile (m = k = n = 1), start to the next start",
           "initiation_interval_meaning": "one operand row (WS: a row of A; OS: a column of A and a row of B) "
                                          "per cycle while streaming",
           "cycle_formula": formula}
    if params.get("chain"):
        out["chained_tiles"] = _chained_tiles(params)
    return out


def _chained_tiles(params: Mapping[str, Any]) -> dict[str, Any]:
    """How to drive a chained array (``chain``): when a tile may be issued, which tile operand
    requests and output rows belong to, where partial sums come from, and a GEMM's cycles (the
    recurrence of ``hw.arrays.tile_cycles(chain=True)``, with this array's constants)."""
    R, C, P = params["rows"], params["cols"], params.get("pipeline", 0)
    L = R + C + 1 + P
    G, W = L + 1, R + C
    return {
        "row_latency_cycles": L, "min_first_row_gap_cycles": G, "wave_cycles": W,
        "issue": "Issue a GEMM's tiles in order, each start with pre = 1 and pre_k = the next tile's k (pre = 0 "
                 "for the last tile); start is sampled in any cycle busy is low, also while earlier tiles still "
                 "stream and drain. busy is low (1) when the array is empty: the tile's weights are then loaded "
                 f"(tile_k rows of B, b_req with b_next low); or (2) in the current tile's last streaming cycle at "
                 f"the earliest, once the next tile's weights are in the shadow and at least {G - 1} cycles have "
                 f"passed since the current tile's first row of A: the new tile's first row of A then enters in "
                 f"the next cycle and its weights take effect PE by PE with that row's wave. The shadow refill "
                 f"for the tile after it starts {W - 1} cycles after that first row (the wave has passed every PE). "
                 "A tile started without its weights in the shadow waits for the array to empty.",
        "operands": "a_req/a_index (and a_psum) refer to the last tile whose start was sampled; b_req with b_next "
                    "high: b_index indexes the B of the tile after the last one issued (the one its pre "
                    "announced); b_req with b_next low: the last tile issued. Present the addressed words in the "
                    "same cycle, as for a single tile.",
        "outputs": "Output rows leave tile by tile in issue order, rows 0..m-1 of each (c_valid, c_index), the "
                   "rows of consecutive tiles possibly back to back; done is high with each tile's last row. A "
                   "c_valid row belongs to the oldest tile not yet done.",
        "partial_sums": "The K folds of one output block are consecutive tiles; a fold's a_psum row i is the "
                        "previous fold's c_acc row i (the empty sum on a block's first fold). That row leaves "
                        "(c_valid, c_index = i) at least one cycle before the next fold requests it (the array "
                        f"keeps first rows {G} cycles apart at least), so a buffer of the previous fold's c_acc "
                        "rows, written by c_index, is enough.",
        "gemm_cycles": f"cycles of a GEMM, from its first start (cycle 0) to the cycle after its last done, tiles "
                       f"issued as soon as busy is low: S_0 = ceil(k_0/P) + 1; S_1 = S_0 + max(m_0, {G}); "
                       f"S_(t+1) = S_t + max(m_t, {W} + ceil(k_(t+1)/P), {G}); total = S_(T-1) + m_(T-1) + {L} "
                       f"(S_t: the cycle tile t's first row of A is requested; m_t, k_t: tile t's sizes; T tiles; "
                       f"P = packing = {params.get('packing', 1)}). Not the sum of cycle_formula's tiles.",
        "source": "hw.arrays.tile_cycles(chain=True)",
    }


_CHAINED_SIGNALS = {
    "start": "command: sampled at a rising edge while busy is low, also while earlier tiles are in flight "
             "(chained tiles); tile_m/tile_k/tile_n and pre/pre_k are sampled with it",
    "busy": "low in the cycles start may be sampled: when the array is empty, or from the current tile's last "
            "streaming cycle once the next tile's weights are in the shadow (timing.chained_tiles.issue); "
            "low busy does not mean the array is idle",
    "done": "high for one cycle with each tile's last output row; tiles finish in the order they were issued",
}


def _protocol(protocol: str, names: set[str], params: Mapping[str, Any]) -> dict[str, Any]:
    text = {
        "stream": "Fixed-latency stream without back-pressure. Drive inputs after a rising edge; the unit takes "
                  "them at the next rising edge where valid is high. Every result appears on out_valid "
                  "exactly latency_cycles rising edges after the beat that completes it.",
        "valid_ready": "AXI-Stream-like valid/ready streams: an element moves at a rising edge where valid and "
                       "ready are both high. Rows of `length` elements go in on i, rows of results come out on o.",
        "tile": "Tile command interface: pulse start with the tile sizes while busy is low; the array then "
                "requests operands by index (a_req/a_index, b_req/b_index: present the addressed word in the "
                "same cycle), and presents output rows on c_valid/c_index/c_data; done marks the last row.",
    }[protocol]
    signals = {n: d for n, d in _CONTROL[protocol].items() if n in names}
    if protocol == "tile" and params.get("chain"):
        text += (" Chained tiles: the next tile may be started while earlier ones still stream and drain "
                 "(busy low), its rows following theirs; see timing.chained_tiles for the issue rule, which "
                 "tile requests and outputs belong to, and a GEMM's cycles.")
        signals |= _CHAINED_SIGNALS
    return {"kind": protocol, "description": text, "signals": signals,
            "backpressure": protocol == "valid_ready"}


def describe_export(component: wiring.Component, *, name: str, verilog_ports: Mapping[str, tuple[str, int]],
                    params: Mapping[str, Any], verilog_sha256: str, files: Mapping[str, str]) -> dict[str, Any]:
    """The JSON description of an exported module (see ``export.schema.json``).

    Parameters
    ----------
    component : the exported component (its signature gives layouts and ranges).
    name : the Verilog module name.
    verilog_ports : port name -> (direction "input"/"output", width in bits), from the netlist.
    params : the unit's metadata (formats, widths, timing figures; ``unit`` or ``kernel`` names it).
    verilog_sha256 : SHA-256 of the Verilog text.
    files : role ("verilog", "metadata", "instantiation", "testbench", ...) -> file name.
    """
    members = _member_table(component)
    names = set(members)
    protocol = protocol_of(names)
    meanings = _port_meanings(params)
    clocked = "clk" in verilog_ports
    ports = []
    for pname, (direction, width) in verilog_ports.items():
        d = "in" if direction == "input" else "out"
        if pname == "clk" and pname not in members:
            ports.append({"name": pname, "direction": d, "width": width, "signed": False, "role": "clock",
                          "description": "clock; every register updates on its rising edge"})
            continue
        if pname == "rst" and pname not in members:
            ports.append({"name": pname, "direction": d, "width": width, "signed": False, "role": "reset",
                          "description": "synchronous active-high reset: while high at a rising edge, every "
                                         "register takes its reset value (zero unless the design says otherwise)"})
            continue
        member = members.get(pname)
        if member is None:
            raise UnitConfigError(f"Verilog port {pname!r} must be a member of the component's signature, "
                                  f"not unknown")
        shape = member.shape
        s = Shape.cast(shape)
        entry: dict[str, Any] = {"name": pname, "direction": d, "width": width, "signed": s.signed}
        if pname in _CONTROL[protocol]:
            entry["role"] = "handshake"
            entry["description"] = _CONTROL[protocol][pname]
            layout = {"kind": "scalar", "encoding": {"representation": "unsigned" if width > 1 else "flag"},
                      "meaning": entry["description"]}
            if isinstance(shape, range):
                layout["declared_range"] = {"min": shape.start, "max": shape.stop - 1}
            entry["layout"] = layout
        else:
            entry["role"] = "data"
            entry["layout"] = _layout(shape, meanings.get(pname), pname)
            lay = entry["layout"]
            doc = meanings.get(pname, {}).get("_doc") if isinstance(meanings.get(pname), dict) else None
            entry["description"] = doc or _summary(lay)
        if width != s.width:
            raise UnitConfigError(f"Verilog port {pname!r} must be {s.width} bits as its signature says, not {width}")
        ports.append(entry)
    order = {name: i for i, name in enumerate(members)}
    ports.sort(key=lambda p: ({"clock": 0, "reset": 1}.get(p["role"], 2), order.get(p["name"], 0)))
    clock = {"port": "clk", "edge": "rising"} if clocked else None
    reset = ({"port": "rst", "polarity": "active_high", "synchronous": True, "min_cycles": 1,
              "values": "every register to its reset value (zero unless the design says otherwise)"}
             if "rst" in verilog_ports else None)
    kind = "array" if params.get("unit") == "array" else "unit"
    return {
        "$schema": SCHEMA_ID,
        "name": name,
        "kind": kind,
        "unit": params.get("kernel") or params.get("unit"),
        "files": dict(files),
        "verilog_sha256": verilog_sha256,
        "clock": clock,
        "reset": reset,
        "protocol": _protocol(protocol, names, params),
        "timing": _timing(protocol, params),
        "ports": ports,
        "parameters": _jsonable(params),
    }


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
