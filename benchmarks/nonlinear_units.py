"""Cycles per row and latency of the nonlinear RTL units (from their timing functions, checked
against simulation by the tests) for transformer row lengths, and the measured Amaranth
simulation speed of one row per unit. Prints a table; run ``python benchmarks/nonlinear_units.py``."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from hw.nonlinear import consts_from_scale
from hw.units.nonlinear import ROW_UNITS, build_nonlinear_unit, ibert_softmax_dividend_width, simulate_rows


def timing_table() -> pd.DataFrame:
    """Timing of every registered unit from its registry entry (``ROW_UNITS[name].row_timing``,
    the function the simulator calls), 8-bit inputs; the I-BERT softmax at s_in = 0.01 (its
    dividend width depends on the scale) and the I-ViT LayerNorm also with the exact isqrt; the
    units with a ``pipeline`` parameter at every depth (with ``divider_bits_per_cycle`` 1)."""
    c = consts_from_scale("ibert_int_softmax", 0.01)
    width = ibert_softmax_dividend_width(c_int=c["c_int"], exp_sf=c["exp_sf"])
    rows = []
    for L in (16, 64, 197, 768, 4096):
        for k in (1, 4, 16):
            for name, spec in ROW_UNITS.items():
                extra = [({}, "")]
                if name == "ibert_int_softmax":
                    extra = [({"dividend_width": width}, " (s_in 0.01)")]
                if name == "ivit_int_layernorm":
                    extra += [({"variant": "exact"}, " (exact isqrt)")]
                depths = range(spec.build.max_pipeline + 1) if k == 1 else (0,)
                for (kw, note), p in ((e, p) for e in extra for p in depths):
                    if "divider_bits_per_cycle" not in spec.timing_params and k != 1:
                        continue
                    t = spec.row_timing(L, x_bits=8, divider_bits_per_cycle=k, **kw, **({"pipeline": p} if p else {}))
                    rows.append({"unit": name + note, "function": spec.function, "length": L,
                                 "divider_bits_per_cycle": k, "pipeline": p, "cycles_per_row": t.cycles_per_row,
                                 "cycles_per_element": round(t.cycles_per_row / L, 3),
                                 "latency_cycles": t.latency_cycles})
    return pd.DataFrame(rows)


def sim_speed() -> pd.DataFrame:
    L = 64
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, size=(2, L))
    ln = [int(v) for v in rng.integers(-100, 100, L)]
    sm = {k: v for k, v in consts_from_scale("ibert_int_softmax", 0.05).items()
          if k in ("x0_int", "b_int", "c_int", "exp_sf", "act_sf16")}
    cases = {"ivit_shiftmax": dict(x_bits=8, length=L, x0_int=-20),
             "ivit_shiftgelu": dict(x_bits=8, length=L, x0_int=-12),
             "ibert_int_gelu": dict(x_bits=8, length=L, b_int=-251, c_int=-69251, shift_int=-5),
             "ivit_int_layernorm": dict(x_bits=8, length=L, bias_int=[0] * L),
             "ibert_int_softmax": dict(x_bits=8, length=L, divider_bits_per_cycle=8, **sm),
             "ibert_int_layernorm": dict(x_bits=8, length=L, bias_int=ln),
             "int_rmsnorm": dict(x_bits=8, length=L),
             "int_silu": dict(x_bits=8, length=L, x0_int=-20)}
    rows = []
    for name, params in cases.items():
        unit, meta = build_nonlinear_unit(name, **params)
        t0 = time.perf_counter()
        run = simulate_rows(unit, x)
        dt = time.perf_counter() - t0
        cycles = run.out_cycles[-1] + 1
        rows.append({"unit": name, "length": L, "rows": len(x), "sim_cycles": cycles,
                     "wall_s": round(dt, 3), "cycles_per_s": round(cycles / dt)})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    with pd.option_context("display.width", 200, "display.max_rows", None):
        print(timing_table().to_string(index=False))
        print()
        print(sim_speed().to_string(index=False))
