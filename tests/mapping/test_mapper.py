"""The mapper: tiles fit the buffers with double buffering, schedules cover every MAC once,
step-by-step DRAM traffic equals the mapper's closed form, errors for too-small SRAM."""
from __future__ import annotations

import math

import pytest

from mapping import (GemmMapping, GemmOp, MapperLimits, MappingError, layer_ops, load_model, map_op, parse_recipe,
                     steps_of)

LIM = MapperLimits(16, 16, 64 * 1024, 128 * 1024, 32 * 1024, 64 * 1024, 16.0)


@pytest.mark.parametrize("recipe", ["INT8", "W4A8", "MXFP4", "FP16"])
@pytest.mark.parametrize("phase", [dict(tokens=128), dict(tokens=1, past=300)])
def test_schedules_are_legal_and_complete(recipe, phase):
    r = parse_recipe(recipe)
    m = load_model("llama3-8b")
    for op in layer_ops(m, **phase):
        mp = map_op(op, r, LIM)
        steps = steps_of(mp)
        loads = sum(b for st in steps for _, b in st.loads)
        assert loads == pytest.approx(mp.dram_read_bytes, rel=0.02)  # per-tile ceil vs whole-tensor ceil
        if isinstance(mp, GemmMapping):
            assert 2 * math.ceil(mp.Mt * mp.Kt * mp.a_bpe) <= LIM.a_bytes
            assert 2 * math.ceil(mp.Kt * mp.Nt * mp.b_bpe) <= LIM.b_bytes
            assert 2 * mp.Mt * mp.Nt * r.bytes_per_element("accumulator") <= LIM.c_bytes
            assert sum(st.work[1] * st.work[2] * st.work[3] for st in steps) == op.macs
            assert sum(st.work[1] * st.work[3] for st in steps if st.store_bytes) == op.count * op.M * op.N
            assert sum(st.new_output for st in steps) == sum(1 for st in steps if st.store_bytes)
        else:
            assert sum(st.work[2] * st.work[3] for st in steps) == op.elements


def test_weight_reuse_when_k_fits():
    # decode GEMV: every weight byte is read exactly once
    r = parse_recipe("INT8")
    op = GemmOp("w", 1, 4096, 4096)
    mp = map_op(op, r, LIM)
    assert sum(b for st in steps_of(mp) for buf, b in st.loads if buf == "b") == 4096 * 4096


def test_block_scales_set_the_k_quantum():
    r = parse_recipe("W4A8")  # groups of 128 along K
    mp = map_op(GemmOp("w", 64, 1024, 256), r, LIM)
    assert mp.Kt % 128 == 0


def test_sram_too_small():
    tiny = MapperLimits(16, 16, 16, 128 * 1024, 32 * 1024, 64 * 1024, 16.0)
    with pytest.raises(MappingError) as e:
        map_op(GemmOp("q_proj", 512, 768, 768), parse_recipe("INT8"), tiny)
    assert str(e.value) == ("SRAM buffer 'a' must hold two tiles of the smallest legal tile of q_proj "
                            "(1 x 16 x 16: 32 bytes), not 16 bytes")


def test_elementwise_row_unit_ops_are_split_across_row_units():
    from mapping import MapperLimits, VectorOp, map_op, parse_recipe, steps_of

    lim = MapperLimits(32, 32, 1 << 18, 1 << 19, 1 << 17, 1 << 18, 64.0, row_units=16)
    op = VectorOp("silu_mul", "silu_mul", 1, 11008, inputs=2, in_role="accumulator")
    mp = map_op(op, parse_recipe("INT8"), lim)
    assert mp.op.rows * mp.op.length == 11008 and mp.op.rows >= 16 and 11008 % mp.op.length == 0
    steps = steps_of(mp)
    assert sum(s.work[2] * s.work[3] for s in steps) == 11008
    # bytes are those of the whole op: two fp32 inputs in, one int8 output
    assert mp.dram_read_bytes == 2 * 11008 * 4 and mp.dram_write_bytes == 11008
    # a reduction keeps its rows whole
    norm = map_op(VectorOp("n", "rmsnorm", 1, 4096), parse_recipe("INT8"), lim)
    assert (norm.op.rows, norm.op.length) == (1, 4096)
