"""Where the cycles of a prefill go, per op, against the MAC roofline and the compulsory DRAM
bytes (issue 15 §3): the measurement behind the mapper's changes and the tpuv1 utilisation check.

For one layer (``--layers``) of ``--model`` prefilling ``--prefill`` tokens on ``--hw`` it prints,
per op of the fusion plan (``sim._fusion.plan_phase``, as ``simulate`` runs it):

* cycles (with overlap: the time the op adds to its chain), the MAC-ideal cycles (MACs / peak)
  and the excess; the array's fill, drain and weight-load cycles (``hw.arrays.tile_cycles``
  through the engine); the input / output / drain stall cycles;
* DRAM bytes moved against the compulsory bytes *given the fusion plan* (each operand once, the
  ones the plan keeps on chip excepted, the residual stream's spill counted: computed here from
  the op shapes, the recipe's bytes per element and the plan, not from the mapper), and against
  the roofline's compulsory bytes
  (weights, the KV cache; activations on chip: ``benchmarks/validate_roofline.py``'s rule);
* the chosen tiling and the search summary (``mapping.MapperSearch``);

then the excess cycles by op, largest first, how far the total is from ``--target``
utilisation, and the planner's choices of spilling the residual stream (both estimates).

Run: ``python benchmarks/mapper_breakdown.py [--hw tpuv1] [--model llama2-7b] [--prefill 2048]
[--layers 1] [--dataflows ws,is] [--target 0.6]``. ``--dataflows`` replaces the preset's list
(a what-if: e.g. whether input-stationary tiles would help).
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mapping import GemmOp, VectorOp, load_model, parse_recipe  # noqa: E402
from sim import PRESETS, simulate  # noqa: E402
from sim._fusion import FusedAttention, plan_phase  # noqa: E402
from sim._gemv import recipe_packing  # noqa: E402
from sim._run import _phase_ops  # noqa: E402


def compulsory(op, residency, bpe) -> tuple[int, int]:
    """(bytes given the fusion plan, bytes by the roofline's rule) of one op."""
    keep = 1.0 - (residency.inputs_on_chip if residency else 0.0)
    out = not (residency and residency.output_on_chip)
    if isinstance(op, GemmOp):
        a = op.count * math.ceil(op.M * op.K * bpe(op.a_role))
        b = (1 if op.b_shared else op.count) * math.ceil(op.K * op.N * bpe(op.b_role))
        c = op.count * math.ceil(op.M * op.N * bpe(op.c_role))
        return math.ceil(a * keep) + b + (c if out else 0), b if op.b_role == "weight" else 0
    if isinstance(op, FusedAttention):
        q = op.count * op.group * op.tokens * op.head_dim
        kv = 2 * op.count * op.keys * op.head_dim
        kvb = math.ceil(kv * bpe(op.kv_role))
        # the roofline counts the cached tokens' K and V (none in a prefill from scratch)
        cached = math.ceil(2 * op.count * op.past * op.head_dim * bpe(op.kv_role))
        return math.ceil(q * bpe("activation") * keep) + kvb + (math.ceil(q * bpe("activation")) if out else 0), cached
    n = op.rows * op.length
    moved = math.ceil(math.ceil(op.inputs * n * bpe(op.in_role)) * keep) + (math.ceil(n * bpe(op.out_role)) if out else 0)
    if residency and residency.spills_input:  # the residual stream it reads, stored to DRAM (sim._fusion)
        moved += math.ceil(op.inputs * n * bpe(op.in_role))
    return moved, math.ceil(n * bpe("kv")) if op.function == "kv_append" else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hw", default="tpuv1")
    ap.add_argument("--model", default="llama2-7b")
    ap.add_argument("--recipe", default="INT8")
    ap.add_argument("--prefill", type=int, default=2048)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--dataflows", default=None, help="comma-separated dataflows replacing the preset's")
    ap.add_argument("--target", type=float, default=0.60)
    args = ap.parse_args()
    hw = PRESETS[args.hw]
    if args.dataflows:
        hw = replace(hw, dataflows=tuple(args.dataflows.split(",")))
    recipe = parse_recipe(args.recipe)
    model = load_model(args.model)
    model = replace(model, n_layers=min(args.layers, model.n_layers))
    res = simulate(model, recipe, hw, prefill=args.prefill)
    ops = res.ops[res.ops.scope == "layer"].reset_index(drop=True)
    plan = plan_phase(_phase_ops(model, args.prefill, 0, 1, False), model, recipe, hw, tokens=args.prefill, past=0,
                      batch=1)
    assert [op.name for _, op, _ in plan] == list(ops.op), "fusion plan and op table disagree"
    peak = hw.peak_macs_per_cycle(recipe_packing(recipe))
    print(f"{args.model} {args.recipe} prefill {args.prefill} on {hw.name} ({hw.array_rows}x{hw.array_cols} x "
          f"{hw.cores} cores, {'+'.join(hw.dataflows)}, {hw.dram_bytes_per_cycle:.1f} B/cycle sustained); "
          f"one layer's ops")
    head = (f"{'op':14s} {'tile':>14s} {'order':>6s} {'df':>4s} {'cycles':>10s} {'ideal':>10s} {'excess':>10s} "
            f"{'fill':>8s} {'drain':>8s} {'wload':>8s} {'st_in':>9s} {'st_out':>9s} {'moved MB':>9s} "
            f"{'plan MB':>8s} {'x plan':>6s} {'roof MB':>8s}")
    print(head)
    rows = []
    for (_, op, residency), (_, r) in zip(plan, ops.iterrows()):
        plan_b, roof_b = compulsory(op, residency, recipe.bytes_per_element)
        moved = r.dram_read_bytes + r.dram_write_bytes
        ideal = r.macs / peak
        rows.append((r.op, r.cycles - ideal))
        f = lambda v: "" if v != v else f"{v:,.0f}"  # noqa: E731  (NaN: not an array op)
        ratio = moved / plan_b if plan_b else (1.0 if moved == 0 else math.inf)
        print(f"{r.op:14s} {r.tile:>14s} {r.order:>6s} {r.dataflow:>4s} {r.cycles:10,.0f} {ideal:10,.0f} "
              f"{r.cycles - ideal:10,.0f} {f(r.array_fill):>8s} {f(r.array_drain):>8s} {f(r.array_weight_load):>8s} "
              f"{r.stall_input:9,.0f} {r.stall_output:9,.0f} {moved / 1e6:9.2f} {plan_b / 1e6:8.2f} {ratio:6.2f} "
              f"{roof_b / 1e6:8.2f}")
    total = float(ops.cycles.sum())
    ideal = float(ops.macs.sum()) / peak
    print(f"\nlayer: {total:,.0f} cycles, MAC-ideal {ideal:,.0f}: utilisation {ideal / total:.1%}; "
          f"{args.target:.0%} needs <= {ideal / args.target:,.0f} cycles, i.e. {total - ideal / args.target:,.0f} "
          f"fewer")
    print("excess cycles over MAC-ideal, largest first:")
    for name, ex in sorted(rows, key=lambda t: -t[1]):
        print(f"  {name:14s} {ex:12,.0f}  ({ex / (total - ideal):5.1%} of the excess)")
    print("residual stream spill choices (sim._fusion.SpillChoice):")
    choices = [r.spill for _, _, r in plan if r is not None and r.spill is not None]
    for choice in choices:
        print(f"  {choice.text()}")
    if not choices:
        print("  none evaluated (no fusion, the stream not resident, or a global buffer)")
    print("mapper search of the array ops:")
    for name, text in zip(ops.op, ops.mapper):
        if text:
            print(f"  {name}: {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
