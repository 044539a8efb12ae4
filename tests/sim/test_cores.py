"""Several cores (sim._cores): one core equals the single-core engine exactly; with unlimited
bandwidth each core takes its part's step cycles; the shared DRAM port is contended."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from mapping import GemmOp, VectorOp, layer_ops, load_model, map_op, parse_recipe, steps_of
from sim import PRESETS, simulate, simulate_op, step_timing
from sim._cores import run_cores, split_op
from sim._engine import run_steps

HW = PRESETS["default-32x32"]
UNLIMITED = replace(HW, dram_gbps_per_channel=math.inf, dram_latency_ns=0.0)
INT8 = parse_recipe("INT8")
OPS = [GemmOp("q", 64, 512, 768), GemmOp("qk", 64, 64, 64, count=12, a_role="activation", b_role="kv",
                                             b_shared=False),
       GemmOp("v", 1, 4096, 4096), VectorOp("softmax", "softmax", 96, 200, in_role="accumulator"),
       VectorOp("residual", "add", 300, 512, inputs=2)]
FIELDS = ("cycles", "compute_cycles", "stall_input", "stall_output", "stall_drain", "dram_read_bytes",
          "dram_write_bytes", "dram_busy_cycles", "array_fill", "array_steady", "array_drain", "array_weight_load",
          "steps")


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
def test_one_core_equals_the_single_core_engine(op):
    timing = step_timing(HW, INT8)
    mp, multi, _ = run_cores(op, INT8, HW, timing)
    mp1 = map_op(op, INT8, HW.limits(), timing.array_cycles)
    single = run_steps(steps_of(mp1), HW, timing, dataflow=getattr(mp1, "dataflow", "ws"))
    for f in FIELDS:
        assert getattr(multi, f) == getattr(single, f), f
    assert mp == mp1


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
@pytest.mark.parametrize("cores", [2, 3, 8])
@pytest.mark.parametrize("array", [None, (32, 32)])
def test_parts_cover_the_op(op, cores, array):
    parts = split_op(op, cores, array)
    assert 1 <= len(parts) <= cores
    if isinstance(op, GemmOp):
        assert sum(p.macs for p in parts) == op.macs
        sizes = [p.count if op.count >= cores else p.N for p in parts]
    else:
        assert sum(p.rows for p in parts) == op.rows
        sizes = [p.rows for p in parts]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
def test_unlimited_bandwidth_cores_take_their_parts_step_cycles(op):
    hw = replace(UNLIMITED, cores=4)
    timing = step_timing(hw, INT8)
    _, run, _ = run_cores(op, INT8, hw, timing)
    expect = []
    for part in split_op(op, 4, (32, 32)):  # independent of the engine: sum of the step durations of each part
        mp = map_op(part, INT8, hw.limits(), timing.array_cycles)
        steps = steps_of(mp)
        df = getattr(mp, "dataflow", "ws")
        tail = timing.tail_cycles(df) if steps[-1].work[0] == "gemm" else 0
        expect.append(sum(timing.step_cycles(s.work, df) for s in steps) + tail)
    assert run.cycles == max(expect)


def test_shared_dram_is_contended():
    # a memory-bound op split over 4 cores is not 4x faster: all bytes cross one port
    slow = replace(HW, dram_channels=1, dram_gbps_per_channel=1.0)
    op = VectorOp("residual", "add", 512, 512, inputs=2)
    _, one = simulate_op(op, parse_recipe("FP16"), slow)
    _, four = simulate_op(op, parse_recipe("FP16"), replace(slow, cores=4))
    nbytes = four.dram_read_bytes + four.dram_write_bytes
    assert nbytes == one.dram_read_bytes + one.dram_write_bytes == 3 * 512 * 512 * 2
    assert four.dram_busy_cycles == pytest.approx(nbytes / slow.dram_bytes_per_cycle)
    assert nbytes / slow.dram_bytes_per_cycle <= four.cycles <= one.cycles


def test_one_core_config_equals_single_core_simulation():
    a = simulate("gpt2", "W4A8", HW, prefill=32, decode=2, layers=2)
    b = simulate("gpt2", "W4A8", replace(HW, cores=1), prefill=32, decode=2, layers=2)
    assert a.summary["cycles"] == b.summary["cycles"]
    assert a.ops["cycles"].tolist() == b.ops["cycles"].tolist()


def test_summary_figures_follow_the_per_op_table():
    res = simulate("gpt2", "INT8", replace(HW, cores=2), prefill=64, decode=2, layers=2)
    s, ops = res.summary, res.ops
    assert s["peak_macs_per_cycle"] == 2 * 32 * 32 and s["cores"] == 2
    assert s["total_cycles"] == s["cycles"] == ops.total_cycles.sum()
    assert s["macs"] == (ops.macs * ops.layers).sum()
    pre, dec = s["phases"]["prefill"], s["phases"]["decode"]
    assert pre["cycles"] + dec["cycles"] == pytest.approx(s["cycles"])
    assert pre["macs"] + dec["macs"] == s["macs"]
    assert pre["dram_read_bytes"] + dec["dram_read_bytes"] == s["dram_read_bytes"]
    assert s["mac_utilisation"] == pytest.approx(s["macs"] / (2 * 32 * 32 * s["cycles"]))
    assert dec["steps"] == 2 and pre["steps"] == 1
    model = load_model("gpt2")
    macs = sum(op.macs for op in layer_ops(model, tokens=64, past=0) if isinstance(op, GemmOp)) * 2
    assert pre["macs"] == macs  # layers=2: model ops left out


def test_cli_cores_override_and_json_summary(tmp_path, capsys):
    from reports.cli import main

    out = tmp_path / "s.json"
    assert main(["simulate", "--model", "gpt2", "--recipe", "INT8", "--hw", "default-32x32", "--cores", "3",
                 "--prefill", "32", "--decode", "2", "--layers", "1", "--json", str(out), "--no-progress",
                 "--no-energy"]) == 0
    assert "3 cores x 32x32 array" in capsys.readouterr().out
    s = json.loads(out.read_text())["summary"]
    for key in ("total_cycles", "seconds", "macs", "peak_macs_per_cycle", "dram_read_bytes", "dram_write_bytes",
                "dram_bytes_per_cycle", "energy_pj", "energy_breakdown_pj", "phases", "notes"):
        assert key in s, key
    assert s["peak_macs_per_cycle"] == 3 * 32 * 32
    assert s["seconds"] == pytest.approx(s["total_cycles"] / 1e9)
    assert s["dram_bytes_per_cycle"] == PRESETS["default-32x32"].dram_bytes_per_cycle
    assert set(s["phases"]) == {"prefill", "decode"}
    assert s["energy_breakdown_pj"]["dram"] == pytest.approx(s["energy_dram_pj"])
    assert main(["simulate", "--model", "gpt2", "--recipe", "INT8", "--cores", "0", "--no-energy"]) == 2
    assert capsys.readouterr().err == "lowbit: error: hardware field cores must be an integer in 1..1024, not 0\n"


def test_grid_counts_array_folds():
    # 256 x 12288 outputs over 108 cores of a 32x32 array: the grid using every core with the
    # least traffic (2 x 54: parts of 128 x 228, 4 x 8 array passes) is beaten by the grid whose
    # largest part needs the fewest passes, the minimum over all grids (counted here)
    op = GemmOp("g", 256, 1024, 12288)
    plain = split_op(op, 108)
    aware = split_op(op, 108, (32, 32))
    folds = lambda ps: max(math.ceil(p.M / 32) * math.ceil(p.N / 32) for p in ps)  # noqa: E731
    assert folds(plain) == 32 and folds(aware) < folds(plain)
    assert min(math.ceil(math.ceil(256 / gm) / 32) * math.ceil(math.ceil(12288 / gn) / 32)
               for gm in range(1, 109) for gn in range(1, 108 // gm + 1)) == folds(aware)


def test_joined_and_runs_equal_the_copied_lists():
    """gb_schedules' per-core steps (``Joined``) and dataflows (``Runs``) read like the lists
    they replace (the concatenation, the value repeated per step): items, negative indices,
    slices, iteration, length, out-of-range errors."""
    from sim._cores import Joined, Runs

    lists = [[1, 2, 3], [], [4], [5, 6]]
    flat = [x for x in lists for x in x]
    j = Joined(lists)
    assert len(j) == len(flat) and list(j) == flat
    assert [j[t] for t in range(-len(flat), len(flat))] == flat + flat
    assert j[1:5] == flat[1:5] and j[:-1] == flat[:-1] and j[::2] == flat[::2]
    runs = [("ws", 2), ("os", 0), ("is", 3)]
    ref = [v for v, k in runs for _ in range(k)]
    r = Runs(runs)
    assert len(r) == 5 and list(r) == ref and r[-1] == "is" and r[1:4] == ref[1:4]
    for seq, n in ((j, len(flat)), (r, 5)):
        with pytest.raises(IndexError):
            seq[n]
        with pytest.raises(IndexError):
            seq[-n - 1]


# --- gb_schedules' chunk ids against the per-core lists they replace ------------------------------
# The reference below is sim._cores' code at 595be12, kept verbatim (names prefixed): every core
# built its own list of A and B chunk ids per step (tuples memoised per part and core) and the
# earliest fraction of any core's schedule reading each chunk from those lists.


def _ref_gb_schedules(op, plan, gbuf, n_cores, sched, array):
    from sim._cores import Runs, split_with_offsets

    per_core: list[list] = [[] for _ in range(n_cores)]
    for blk in plan.blocks:
        parts = split_with_offsets(blk.op(op), n_cores, array)
        blk.pending = len(parts)
        for c, (part, (pi, pm, pn)) in enumerate(parts):
            mp, steps = sched(part)
            per_core[c].append((blk, part, (blk.i0 + pi, blk.m0 + pm, blk.n0 + pn), mp, steps))
        if not isinstance(op, GemmOp):  # fused attention: one chunk per Q, K, V of a head
            for g in blk.a_groups:
                gbuf.chunk(g, 1, g.K)
            continue
        mp0 = per_core[0][-1][3]
        for g in blk.a_groups:
            gbuf.chunk(g, getattr(mp0, "Mt", blk.m1 - blk.m0), getattr(mp0, "Kt", op.K))
        for g in blk.b_groups:
            gbuf.chunk(g, getattr(mp0, "Nt", blk.n1 - blk.n0), getattr(mp0, "Kt", op.K))
    out = []
    first = gbuf.first_need
    layouts: dict = {}
    for c, entries in enumerate(per_core):
        if not entries:
            continue
        parts_steps, dfs, needs_a, needs_b, ends, n = [], [], [], [], {}, 0
        for blk, part, (i0, m0, n0), mp, st in entries:
            if isinstance(part, GemmOp):
                a, b = _ref_gemm_needs(op, blk, part, (i0, m0, n0), mp, st, layouts)
            else:
                a, b = _ref_attention_needs(blk, part, i0, st), [()] * len(st)
            needs_a += a
            needs_b += b
            dfs.append((getattr(mp, "dataflow", "ws"), len(st)))
            parts_steps.append(st)
            n += len(st)
            ends[n - 1] = blk
        steps = [s for st in parts_steps for s in st]
        seen: set[int] = set()
        for needs in (needs_a, needs_b):
            for t, ids in enumerate(needs):
                if id(ids) in seen:
                    continue
                seen.add(id(ids))
                for cid in ids:
                    if t / n < first.get(cid, 2.0):
                        first[cid] = t / n
        out.append((entries[0][3], steps, Runs(dfs), (needs_a, needs_b, ends, c)))
    return out


def _ref_gemm_needs(op, blk, part, at, mp, st, layouts=None):
    from sim._cores import _gemm_layout

    i0, m0, n0 = at
    Mt, Kt, Nt = (getattr(mp, x, d) for x, d in (("Mt", part.M), ("Kt", part.K), ("Nt", part.N)))
    lkey = (id(mp), id(st), part.count, part.M, part.K, part.N)
    if layouts is None or lkey not in layouts:
        layout = _gemm_layout(part, mp, st)
        if layouts is not None:
            layouts[lkey] = layout
    else:
        layout = layouts[lkey]
    exact, per_step = layout
    a_memo: dict = {}
    b_memo: dict = {}
    out_a, out_b = [], []
    whole = tuple(range(i0, i0 + part.count))
    for tl, has_a, has_b in per_step:
        if exact:
            i, mi, kk, ni = tl
            insts = (i0 + i,)
            r0, r1 = m0 + mi * Mt, m0 + min(part.M, (mi + 1) * Mt)
            c0, c1 = n0 + ni * Nt, n0 + min(part.N, (ni + 1) * Nt)
            k0, k1 = kk * Kt, min(part.K, (kk + 1) * Kt)
        else:
            insts, (r0, r1), (c0, c1), (k0, k1) = whole, (m0, m0 + part.M), (n0, n0 + part.N), (0, part.K)
        ka, kb = (insts, r0, k0), (insts, c0, k0)
        if has_a and ka not in a_memo:
            a_memo[ka] = tuple(x for i in insts for x in blk.a_groups[i - blk.i0].ids(r0, r1, k0, k1))
        if has_b and kb not in b_memo:
            b_memo[kb] = tuple(x for i in insts
                               for x in blk.b_groups[0 if op.b_shared else i - blk.i0].ids(c0, c1, k0, k1))
        out_a.append(a_memo[ka] if has_a else ())
        out_b.append(b_memo[kb] if has_b else ())
    return out_a, out_b


def _ref_attention_needs(blk, part, i0, st):
    per = len(st) // part.count if part.count and len(st) % part.count == 0 else 0
    exact = per and per % 3 == 0 and all(s.work[0] == ("vector" if t % per % 3 == 1 else "gemm")
                                         for t, s in enumerate(st))
    out = []
    for t, s in enumerate(st):
        if not s.loads:
            out.append(())
            continue
        heads = [i0 + t // per] if exact else range(i0, i0 + part.count)
        ids: list[int] = []
        for h in heads:
            q, k, v = blk.a_groups[3 * (h - blk.i0): 3 * (h - blk.i0) + 3]
            j = t % per % 3 if exact else None
            if any(b == "a" and n for b, n in s.loads):
                ids.append(q.first)
            if any(b in ("b", "br") and n for b, n in s.loads):
                ids += [k.first] if j == 0 else [v.first] if j == 2 else [k.first, v.first]
        out.append(tuple(ids))
    return out


def _random_gb_case(rng):
    """A random op (GEMM with one or several instances, shared B or not; or fused attention) and
    hardware (cores, array, global buffer from too small to whole) with its plans."""
    from sim._fusion import FusedAttention, fused_attention_steps
    from sim._global_buffer import gemm_plans, plan_attention

    hw = replace(HW, cores=rng.choice([1, 2, 3, 5, 8, 12]), array_rows=rng.choice([8, 16, 32]),
                 array_cols=rng.choice([8, 16, 32]), gb_kib=rng.choice([8, 32, 128, 1024]), gb_gbps=256.0)
    timing = step_timing(hw, INT8)
    if rng.random() < 0.2:
        tokens = rng.randint(1, 40)
        past = rng.randint(0, 40)
        op = FusedAttention("attention", rng.randint(1, 9), rng.randint(1, 3), tokens, past, past + tokens,
                            rng.choice([16, 32, 64]), rng.choice([4, 8, 16]), rng.random() < 0.5)

        def plans():
            return [p for p in (plan_attention(op, INT8, hw),) if p is not None]

        def sched(part):
            return fused_attention_steps(part, INT8, hw, timing)
    else:
        count = rng.choice([1, 1, 1, 3, 8])
        shared = count == 1 or rng.random() < 0.5
        op = GemmOp("g", rng.randint(1, 300), rng.randint(1, 700), rng.randint(1, 600), count=count,
                    a_role="activation", b_role="weight" if shared else "kv", b_shared=shared)

        def plans():
            return gemm_plans(op, INT8, hw)

        def sched(part):
            mp = map_op(part, INT8, hw.limits(), timing.array_cycles)
            return mp, steps_of(mp)
    return op, hw, plans, sched


def test_gb_schedules_read_the_chunk_ids_of_the_per_core_lists():
    """On 100 random ops (GEMMs of every plan scheme, fused attention) and hardware:
    gb_schedules' cores, schedules, dataflows, the chunk ids each step reads (``CoreView.needs``,
    read in order, backwards and at random), the steps ending blocks and the earliest need of
    every chunk equal those of the per-core lists it replaces (the reference above); the lists
    of cores reading the same rows (columns) are one object."""
    import random

    import simpy

    from sim._cores import gb_schedules
    from sim._global_buffer import GlobalBuffer

    rng = random.Random(15)
    schemes, shared_lists = set(), 0
    for _ in range(100):
        op, hw, plans, sched = _random_gb_case(rng)
        memo: dict = {}

        def once(part):  # parts of equal shapes share one schedule, as in run_cores
            key = replace(part, name="")
            if key not in memo:
                memo[key] = sched(part)
            return memo[key]

        arr = (hw.array_rows, hw.array_cols)
        for p_ref, p_new in zip(plans(), plans()):
            if len(p_new.blocks) > 64:  # a buffer far too small for the op: thousands of blocks, slow to check
                continue
            schemes.add(p_new.scheme)
            env = simpy.Environment()
            port = simpy.Resource(env, capacity=1)
            g_ref, g_new = GlobalBuffer(env, port, hw, p_ref), GlobalBuffer(env, port, hw, p_new)
            ref = _ref_gb_schedules(op, p_ref, g_ref, hw.cores, once, arr)
            new = gb_schedules(op, p_new, g_new, hw.cores, once, arr)
            assert len(new) == len(ref) and len(g_new.events) == len(g_ref.events)
            assert g_new.first_need == g_ref.first_need
            lists = {}
            for (mp_r, st_r, dfs_r, (na, nb, ends, c)), (mp, st, df, dfs, view) in zip(ref, new):
                assert mp is mp_r and list(st) == st_r and view.core == c
                assert [df] * len(st) == list(dfs_r) if dfs is None else list(dfs) == list(dfs_r)
                assert [(b.i0, b.m0, b.n0) for b in view.ends.values()] == [(b.i0, b.m0, b.n0) for b in ends.values()]
                assert list(view.ends) == list(ends)
                order = list(range(len(na))) + list(range(len(na) - 1, -1, -1))
                order += [rng.randrange(len(na)) for _ in range(50)]
                for t in order:  # one chunk id is held alone (an int)
                    assert tuple((x,) if isinstance(x, int) else x for x in view.needs(t)) == (na[t], nb[t])
                    assert view.waits(t) == [g_new.events[x] for x in na[t] + nb[t]]  # nothing has arrived
                for lst, _ in view._parts:
                    lists[id(lst)] = lists.get(id(lst), 0) + 1
                for t in (-1, len(na)):
                    with pytest.raises(IndexError):
                        view.needs(t)
            shared_lists += sum(1 for n in lists.values() if n > 1)
    assert {"fits", "instances", "a-stationary", "b-stationary"} <= schemes and shared_lists
