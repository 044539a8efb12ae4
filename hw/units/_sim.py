"""Driving units in Amaranth's simulator: combinational evaluation over vectors of inputs, and
streaming a MAC-style unit cycle by cycle (used by the tests and by ``demo_check``)."""
from __future__ import annotations

from typing import Mapping, Sequence

from amaranth.sim import Simulator

__all__ = ["simulate_comb", "run_stream"]


def _resolve(component, name: str):
    obj = component
    for part in name.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def simulate_comb(component, inputs: Mapping[str, Sequence[int]], outputs: Sequence[str]
                  ) -> dict[str, list[int]]:
    """Evaluate a combinational ``component`` for each position of the ``inputs`` vectors
    (port name -> values; ``"a.3"`` names element 3 of an array port) and return the
    ``outputs`` ports' values (signed ports come back signed)."""
    names = list(inputs)
    n = len(inputs[names[0]]) if names else 0
    res: dict[str, list[int]] = {o: [] for o in outputs}

    async def bench(ctx):
        ins = [_resolve(component, k) for k in names]
        outs = [_resolve(component, o) for o in outputs]
        for i in range(n):
            for sig, k in zip(ins, names):
                ctx.set(sig, int(inputs[k][i]))
            for sig, o in zip(outs, outputs):
                res[o].append(int(ctx.get(sig)))

    sim = Simulator(component)
    sim.add_testbench(bench)
    sim.run()
    return res


def run_stream(component, beats: Sequence[Mapping[str, int]], outputs: Sequence[str], *,
               valid: str = "out_valid", max_idle: int = 64) -> tuple[list[dict], list[int]]:
    """Clock ``beats`` (one dict of input port values per cycle; ports not named are held at 0)
    into a synchronous ``component`` and collect ``outputs`` on every cycle where ``valid`` is
    high. Returns (collected rows, cycle index of each collection); the beat presented before
    clock edge t is cycle t, a value seen after edge t is collected at cycle t."""
    collected: list[dict] = []
    cycles: list[int] = []
    in_names = sorted({k for b in beats for k in b})

    async def bench(ctx):
        sigs = {k: _resolve(component, k) for k in in_names}
        vsig = _resolve(component, valid)
        outs = {o: _resolve(component, o) for o in outputs}
        t = 0
        idle = 0
        i = 0
        while i < len(beats) or idle < max_idle:
            beat = beats[i] if i < len(beats) else {}
            for k, s in sigs.items():
                ctx.set(s, int(beat.get(k, 0)))
            await ctx.tick()
            t += 1
            i += 1
            if ctx.get(vsig):
                collected.append({o: int(ctx.get(s)) for o, s in outs.items()})
                cycles.append(t)
                idle = 0
            elif i >= len(beats):
                idle += 1

    sim = Simulator(component)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return collected, cycles
