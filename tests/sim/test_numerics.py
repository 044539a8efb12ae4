"""Numerics mode: one layer through the golden GEMMs vs a float64 run; GEMM outputs checked
against an exact-rational reference computed here from the decoded codes."""
from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from hw.formats import BlockFormat
from hw.numerics import gemm
from sim import SimulationError
from mapping import load_model, parse_recipe
from sim._numerics import run_layer_numerics, seeded_weights

RECIPES = ("FP16", "INT8", "W4A8", "FP8", "MXFP4")


@pytest.fixture(scope="module")
def bert():
    return {r: run_layer_numerics("bert-base", r, tokens=8, seed=3) for r in RECIPES}


def _values(codes, fmt, scales):
    return fmt.dequantize(scales, codes) if isinstance(fmt, BlockFormat) else fmt.decode(codes)


def test_gemm_outputs_are_exact_sums_rounded_once(bert):
    for recipe in ("INT8", "W4A8", "FP8", "MXFP4"):
        for rec in bert[recipe].gemms[:5]:
            # the recorded codes run through hw.numerics.gemm again give the same output codes
            again = gemm(rec.a_codes, rec.a_fmt, rec.b_codes, rec.b_fmt, rec.out_fmt,
                         a_scales=rec.a_scales, b_scales=rec.b_scales)
            assert np.array_equal(again, rec.out_codes)
            # and element (0, 0) equals the exact rational dot product rounded to float32
            a = _values(rec.a_codes[0], rec.a_fmt, None if rec.a_scales is None else rec.a_scales[0])
            b = _values(rec.b_codes[:, 0], rec.b_fmt, None if rec.b_scales is None else rec.b_scales[:, 0])
            exact = sum((Fraction(float(x)) * Fraction(float(y)) for x, y in zip(a, b)), Fraction(0))
            got = rec.out_fmt.decode(rec.out_codes)[0, 0]
            assert Fraction(float(exact)) == exact  # exact in float64, so one rounding to float32 below
            assert got == np.float32(float(exact)), (recipe, rec.name)


def test_sampled_gemm_check_passes(bert):
    checks = bert["W4A8"].gemm_checks(samples=4)
    assert (checks.equal == checks.checked).all()
    assert set(checks.a_fmt) == {"int8"} and "int4_sym_x128_float16" in set(checks.b_fmt)


def test_error_follows_precision(bert):
    err = {r: bert[r].rel_rms_error for r in RECIPES}
    assert err["FP16"] < err["INT8"] < err["W4A8"]
    assert err["FP16"] < err["FP8"] < err["MXFP4"]
    assert all(0 < e < 1 for e in err.values())
    assert bert["INT8"].errors.iloc[-1]["op"] == "layer_output"


def test_decoder_layer_with_gqa(tmp_path):
    cfg = {"model_type": "llama", "hidden_size": 256, "num_attention_heads": 8, "num_key_value_heads": 2,
           "num_hidden_layers": 2, "intermediate_size": 512, "max_position_embeddings": 64, "hidden_act": "silu"}
    p = tmp_path / "tiny-llama.json"
    p.write_text(json.dumps(cfg))
    r = run_layer_numerics(str(p), "W4A8KV4", tokens=8)
    names = [g.name for g in r.gemms]
    assert names.count("attn_scores[0]") == 1 and "attn_scores[2]" not in names  # 2 KV heads
    assert r.gemms[names.index("attn_scores[0]")].a_codes.shape == (4 * 8, 32)  # 4 query heads stacked
    assert 0 < r.rel_rms_error < 1


def test_user_weights_and_errors(tmp_path):
    from sim._numerics import seeded_weights
    from mapping import load_model
    w = seeded_weights(load_model("bert-base"), seed=5)
    p = tmp_path / "w.npz"
    np.savez(p, **w)
    a = run_layer_numerics("bert-base", "INT8", tokens=4, weights=str(p), seed=5)
    b = run_layer_numerics("bert-base", "INT8", tokens=4, seed=5)
    assert np.array_equal(a.output, b.output)
    del w["ffn_up"]
    with pytest.raises(SimulationError, match=r"^weights must include 'ffn_up' of shape \(3072, 768\)"):
        run_layer_numerics("bert-base", "INT8", tokens=4, weights=w)



def test_integer_recipes_run_their_own_kernels_on_llama_and_gpt2(monkeypatch):
    import hw.nonlinear as hn
    from mapping import model_from_dict

    tiny_llama = model_from_dict({"model_type": "llama", "hidden_size": 256, "num_attention_heads": 4,
                                  "num_key_value_heads": 2, "num_hidden_layers": 1, "intermediate_size": 512,
                                  "max_position_embeddings": 64}, name="tiny")
    used = []
    real = hn.from_scale
    monkeypatch.setattr(hn, "from_scale", lambda name, *a, **k: used.append(name) or real(name, *a, **k))
    r = run_layer_numerics(tiny_llama, "I-BERT", tokens=4, seed=1)
    assert set(used) == {"int_rmsnorm", "ibert_int_softmax", "int_silu"}
    assert 0 < r.rel_rms_error < 1
    used.clear()
    a = run_layer_numerics("gpt2", "I-ViT", tokens=4, seed=1)
    assert set(used) == {"ivit_int_layernorm", "ivit_shiftmax", "ivit_shiftgelu"}
    used.clear()
    b = run_layer_numerics("gpt2", "I-BERT", tokens=4, seed=1)
    assert set(used) == {"ibert_int_layernorm", "ibert_int_softmax", "ibert_int_gelu"}
    assert not np.array_equal(a.output, b.output)


@pytest.mark.slow
def test_llama2_7b_layer_full_width():
    r = run_layer_numerics("llama2-7b", "W4A8", tokens=4)
    checks = r.gemm_checks(samples=2)
    assert (checks.equal == checks.checked).all()


def test_safetensors_with_hugging_face_names(tmp_path):
    from safetensors.numpy import save_file

    from mapping import load_model
    from sim._numerics import seeded_weights
    w = seeded_weights(load_model("bert-base"), seed=7)
    hf = {"q_proj": "query", "k_proj": "key", "v_proj": "value"}
    named = {f"bert.encoder.layer.3.attention.self.{hf[k]}.weight": v for k, v in w.items() if k in hf}
    named["bert.encoder.layer.3.attention.output.dense.weight"] = w["o_proj"]
    named["bert.encoder.layer.3.intermediate.dense.weight"] = w["ffn_up"]
    named["bert.encoder.layer.3.output.dense.weight"] = w["ffn_down"]
    p = tmp_path / "model.safetensors"
    save_file(named, str(p))
    a = run_layer_numerics("bert-base", "FP8", tokens=4, weights=str(p), layer=3, seed=7)
    b = run_layer_numerics("bert-base", "FP8", tokens=4, seed=7)
    assert np.array_equal(a.output, b.output)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 4)
    with pytest.raises(SimulationError, match=r"^weights file must be a valid \.safetensors file"):
        run_layer_numerics("bert-base", "FP8", tokens=4, weights=str(bad))


def test_ibert_recipe_runs_the_integer_kernels():
    from dataclasses import replace

    from hw.formats import parse
    from mapping import parse_recipe

    ib = parse_recipe("I-BERT")
    r = run_layer_numerics("bert-base", ib, tokens=4, seed=2)
    checks = r.gemm_checks(samples=4)
    assert set(checks.a_fmt) == {"int8"} and (checks.equal == checks.checked).all()
    assert str(r.gemms[0].out_fmt) == "int32"
    # same GEMM formats with float nonlinear units: the integer kernels change the output
    fl = run_layer_numerics("bert-base", replace(ib, nonlinear="float", accumulator=parse("float32"),
                                                 nonlinear_io=parse("float16")), tokens=4, seed=2)
    assert not (r.output == fl.output).all()
    assert 0 < fl.rel_rms_error < r.rel_rms_error < 1


def test_integer_recipes_requantise_accumulators_by_dyadic_multipliers():
    """The integer kernel inputs come from the GEMM's int32 accumulator through
    ``DyadicRequantizer`` (one multiplier/shift per output channel); they agree with rounding the
    real values on the same scale to within one LSB (numpy reference)."""
    from sim._numerics import INT_KERNEL_BITS, _Layer

    m = load_model("bert-base")
    layer = _Layer(m, parse_recipe("I-BERT"), seeded_weights(m, 3))
    x = np.random.default_rng(4).standard_normal((6, m.d_model))
    u = layer.matmul("ffn_up", x, layer.w["ffn_up"], "weight")
    codes, lsb = layer.acc["ffn_up"]
    assert codes.dtype == np.int64 and np.array_equal(codes * lsb, u)
    got, s_in = layer._int_in(u, layer.acc["ffn_up"])
    hi = (1 << (INT_KERNEL_BITS["ibert"] - 1)) - 1
    want = np.clip(np.rint(u / s_in), -hi, hi)
    assert np.abs(got - want).max() <= 1 and got.dtype == np.int64
    assert len(np.unique(lsb)) == m.d_ff  # per-channel weight scales: one requantizer per column


def test_numerics_refuses_a_layer_beyond_its_memory_limit():
    from mapping import model_from_dict

    huge = model_from_dict({"model_type": "llama", "hidden_size": 65536, "num_attention_heads": 512,
                            "num_hidden_layers": 1, "intermediate_size": 262144, "max_position_embeddings": 64},
                           name="huge")
    with pytest.raises(SimulationError) as e:
        run_layer_numerics(huge, "INT8", tokens=4)
    assert str(e.value).startswith("numerics-mode memory must be at most 8 GB, not about ")
    assert "(one layer of huge: d_model 65536, intermediate size 262144, 4 tokens)" in str(e.value)
