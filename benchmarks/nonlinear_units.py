"""Cycles per row and latency of the nonlinear RTL units (from their timing functions, checked
against simulation by the tests) for transformer row lengths, and the measured Amaranth
simulation speed of one row per unit. Prints a table; run ``python benchmarks/nonlinear_units.py``."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from hw.nonlinear import consts_from_scale
from hw.units.nonlinear import (build_nonlinear_unit, ibert_softmax_dividend_width,
                                ibert_softmax_timing, intgelu_timing, layernorm_timing,
                                shiftgelu_timing, shiftmax_timing, simulate_rows)


def timing_table() -> pd.DataFrame:
    """Timing of every unit at s_in = 0.01 (I-BERT softmax dividend width depends on it)."""
    c = consts_from_scale("ibert_int_softmax", 0.01)
    width = ibert_softmax_dividend_width(c_int=c["c_int"], exp_sf=c["exp_sf"])
    rows = []
    for L in (16, 64, 197, 768):
        for k in (1, 4):
            for name, t in (("ivit_shiftmax", shiftmax_timing(L, divider_bits_per_cycle=k)),
                            ("ivit_shiftgelu", shiftgelu_timing(L, divider_bits_per_cycle=k)),
                            ("ivit_int_layernorm", layernorm_timing(L, x_bits=8, divider_bits_per_cycle=k)),
                            ("ivit_int_layernorm (exact isqrt)",
                             layernorm_timing(L, x_bits=8, divider_bits_per_cycle=k, variant="exact")),
                            ("ibert_int_softmax (exact)",
                             ibert_softmax_timing(L, dividend_width=width, divider_bits_per_cycle=k)),
                            ("ibert_int_gelu", intgelu_timing(L))):
                if name == "ibert_int_gelu" and k != 1:
                    continue
                rows.append({"unit": name, "length": L, "divider_bits_per_cycle": k,
                             "cycles_per_row": t.cycles_per_row, "cycles_per_element": t.cycles_per_row / L,
                             "latency_cycles": t.latency_cycles})
    return pd.DataFrame(rows)


def sim_speed() -> pd.DataFrame:
    L = 64
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, size=(2, L))
    cases = {"ivit_shiftmax": dict(x_bits=8, length=L, x0_int=-20),
             "ivit_shiftgelu": dict(x_bits=8, length=L, x0_int=-12),
             "ibert_int_gelu": dict(x_bits=8, length=L, b_int=-251, c_int=-69251, shift_int=-5),
             "ivit_int_layernorm": dict(x_bits=8, length=L, bias_int=[0] * L)}
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
