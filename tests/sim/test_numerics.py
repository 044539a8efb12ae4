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


def test_numerics_refuses_a_layer_beyond_its_memory_limit():
    from mapping import model_from_dict

    huge = model_from_dict({"model_type": "llama", "hidden_size": 65536, "num_attention_heads": 512,
                            "num_hidden_layers": 1, "intermediate_size": 262144, "max_position_embeddings": 64},
                           name="huge")
    with pytest.raises(SimulationError) as e:
        run_layer_numerics(huge, "INT8", tokens=4)
    assert str(e.value).startswith("numerics-mode memory must be at most 8 GB, not about ")
    assert "(one layer of huge: d_model 65536, intermediate size 262144, 4 tokens)" in str(e.value)


def test_integer_only_layers_budget_the_forward_backends_copies():
    """The integer-only path keeps a float64 checkpoint copy and int64 weight codes: a layer whose
    float run fits the limit can be refused for I-BERT."""
    from mapping import model_from_dict
    from sim._numerics import NUMERICS_MAX_BYTES, numerics_bytes

    mid = model_from_dict({"model_type": "llama", "hidden_size": 4864, "num_attention_heads": 38,
                           "num_hidden_layers": 1, "intermediate_size": 13056, "max_position_embeddings": 64},
                          name="mid")
    assert numerics_bytes(mid, 4) < NUMERICS_MAX_BYTES < numerics_bytes(mid, 4, integer_only=True)
    with pytest.raises(SimulationError) as e:
        run_layer_numerics(mid, "I-BERT", tokens=4)
    assert str(e.value).startswith("numerics-mode memory must be at most 8 GB, not about 9.0 GB (one layer of mid")
    with pytest.raises(SimulationError) as e:
        numerics_bytes(mid, 4, integer_only=1)
    assert str(e.value) == "integer_only must be a bool, not 1"


# --------------------------------------------------------------------------- integer-only recipes
TINY_LLAMA = {"model_type": "llama", "hidden_size": 256, "num_attention_heads": 4, "num_key_value_heads": 2,
              "num_hidden_layers": 1, "intermediate_size": 512, "max_position_embeddings": 64}


def _numpy_layer(m, w, x):
    """The layer in float64 numpy, written here from the architecture: post-LN BERT or a pre-norm
    decoder/encoder, LayerNorm (eps 1e-12) or RMSNorm (eps 1e-5) without affine parameters, no
    biases, erf GELU or SiLU-gated FFN, grouped KV heads, causal mask for decoders."""
    from math import erf

    w = {k: np.asarray(v, dtype=np.float64) for k, v in w.items()}

    def norm(v):
        if m.norm == "rmsnorm":
            return v / np.sqrt(np.mean(v ** 2, axis=-1, keepdims=True) + 1e-5)
        c = v - v.mean(axis=-1, keepdims=True)
        return c / np.sqrt(np.mean(c ** 2, axis=-1, keepdims=True) + 1e-12)

    def attention(h):
        S, hd = h.shape[0], m.head_dim
        q, k, v = h @ w["q_proj"].T, h @ w["k_proj"].T, h @ w["v_proj"].T
        out = np.zeros((S, m.n_heads * hd))
        for head in range(m.n_heads):
            kv = head // (m.n_heads // m.n_kv_heads)
            s = q[:, head * hd:(head + 1) * hd] @ k[:, kv * hd:(kv + 1) * hd].T / np.sqrt(hd)
            if m.decoder:
                s[np.triu_indices(S, 1)] = -np.inf
            e = np.exp(s - s.max(axis=1, keepdims=True))
            out[:, head * hd:(head + 1) * hd] = (e / e.sum(axis=1, keepdims=True)) @ v[:, kv * hd:(kv + 1) * hd]
        return out @ w["o_proj"].T

    def ffn(h):
        if m.ffn == "silu_gated":
            g = h @ w["gate_proj"].T
            return (g / (1 + np.exp(-g)) * (h @ w["up_proj"].T)) @ w["down_proj"].T
        u = h @ w["ffn_up"].T
        return (0.5 * u * (1 + np.vectorize(erf)(u / np.sqrt(2)))) @ w["ffn_down"].T

    if m.model_type == "bert":
        h = norm(x + attention(x))
        return norm(h + ffn(h))
    h = x + attention(norm(x))
    return h + ffn(norm(h))


@pytest.mark.parametrize("model", ["bert-base", "gpt2", "tiny-llama"])
def test_reference_and_the_integer_path_run_the_numpy_layer(model):
    """The float64 reference is the layer written above; so is the forward pass's ``_layer`` on
    the one-layer checkpoint that integer-only recipes run (float64 backend): the integer path
    and the float recipes are measured on the same layer."""
    from mapping import model_from_dict
    from sim._forward import _FloatBackend, _layer
    from sim._numerics import _layer_checkpoint

    m = model_from_dict(TINY_LLAMA, name="tiny") if model == "tiny-llama" else load_model(model)
    r = run_layer_numerics(m, "INT8", tokens=5, seed=4)
    w = seeded_weights(m, 4)
    want = _numpy_layer(m, w, r.input)
    assert np.max(np.abs(r.reference - want)) < 1e-12 * np.max(np.abs(want))
    ckpt = _layer_checkpoint(m, w)
    got = _layer(ckpt, _FloatBackend(ckpt, None), 0, r.input, [(0, 5)], None)
    assert np.max(np.abs(got - want)) < 1e-12 * np.max(np.abs(want))


def _layer_ops(trace):
    """(site, op, dtypes) of layer 0's named ops, without what numerics mode's layer leaves out
    (linear biases, rotary embeddings)."""
    return [t for t in trace if t[0].startswith("L0.") and t[1] != "bias" and not t[0].endswith("_rope")]


@pytest.mark.parametrize("kind", ["bert", "gpt2", "llama"])
@pytest.mark.parametrize("recipe", ["I-BERT", "I-ViT"])
def test_integer_layer_is_the_forward_pass_layer(tmp_path, kind, recipe):
    """On a checkpoint's layer shapes, numerics mode runs the same ops, in the same order, with
    the same integer dtypes at every boundary, as layer 0 of the forward pass on that checkpoint."""
    from mapping import load_checkpoint
    from sim import RecipeForward, calibrate
    from tests.mapping.test_checkpoint import write_checkpoint

    ckpt = load_checkpoint(write_checkpoint(tmp_path / kind, kind))
    ids = np.array([0, 5, 7, 3, 2, 9, 11, 4])
    fwd = RecipeForward(ckpt, parse_recipe(recipe), calibration=calibrate(ckpt, [ids]))
    fwd.run(ids, **({"prefill": len(ids)} if ckpt.decoder else {}))
    num = run_layer_numerics(ckpt.config, recipe, tokens=len(ids), seed=1)
    assert _layer_ops(num.trace) == _layer_ops(fwd.trace)
    cfg = ckpt.config
    linears = 7 if kind == "llama" else 6
    assert sum(op == "gemm" for _, op, _, _ in num.trace) == len(num.gemms) == linears + 2 * cfg.n_heads


@pytest.mark.parametrize("model, recipe", [("bert-base", "I-BERT"), ("gpt2", "I-ViT"), ("tiny-llama", "I-BERT")])
def test_integer_layer_has_no_float_op(model, recipe):
    """From the layer's integer input to its integer output every op boundary carries integers;
    the recipe's kernels run; every GEMM is integer x integer into int32, equal to the Python-int
    dot product (saturated)."""
    from mapping import model_from_dict

    m = model_from_dict(TINY_LLAMA, name="tiny") if model == "tiny-llama" else load_model(model)
    r = run_layer_numerics(m, recipe, tokens=4, seed=1)
    for site, op, ins, outs in r.trace:
        assert all(np.dtype(t).kind in "iu" for t in ins.split(",") + [outs]), (site, op, ins, outs)
    k = parse_recipe(recipe).kernels
    kernels = {k["rmsnorm"], k["silu_mul"].replace("int_silu", "int_swiglu")} if m.norm == "rmsnorm" \
        else {k["layernorm"], k["gelu"]}
    assert kernels | {k["softmax"], "gemm", "add", "requant8"} <= {op for _, op, _, _ in r.trace}
    assert all(not np.isnan(e) for e in r.errors.rel_rms_error) and 0 < r.rel_rms_error < 0.5
    lo, hi = -(1 << 31), (1 << 31) - 1
    for rec in r.gemms[:2] + r.gemms[3:5]:  # q, k projections; scores and context of head 0
        assert str(rec.out_fmt) == "int32" and str(rec.a_fmt) in ("int8", "uint8") and str(rec.b_fmt) == "int8"
        a, b = rec.a_fmt.to_int(rec.a_codes), rec.b_fmt.to_int(rec.b_codes)
        got = rec.out_fmt.to_int(rec.out_codes)
        for i, j in ((0, 0), (a.shape[0] - 1, b.shape[1] - 1), (1, b.shape[1] // 2)):
            exact = sum(int(x) * int(y) for x, y in zip(a[i], b[:, j]))
            assert int(got[i, j]) == min(max(exact, lo), hi), (rec.name, i, j)


def _half_even(v: Fraction) -> int:
    return round(v)  # Fraction.__round__: nearest, ties to even


def test_residual_adds_and_norm_inputs_are_integer_requantisations(monkeypatch):
    """Residual adds take two integer tensors, rescale each to the sum's scale by a dyadic
    multiplier (x * M / 2**E, half to even: checked here in Python integers and fractions, M / 2**E
    within 2**-30 of the scale ratio) and add them; the norms take exactly these integer sums (the
    same arrays), not values rounded from reals."""
    from hw.nonlinear import batch_frexp
    from sim._numerics import _NumericsIntBackend

    adds, norms = [], []
    real_add, real_norm = _NumericsIntBackend.add, _NumericsIntBackend.norm

    def add(self, site, x, y):
        out = real_add(self, site, x, y)
        adds.append((site, x, y, out))
        return out

    def norm(self, site, x, name):
        norms.append((site, x))
        return real_norm(self, site, x, name)

    monkeypatch.setattr(_NumericsIntBackend, "add", add)
    monkeypatch.setattr(_NumericsIntBackend, "norm", norm)
    run_layer_numerics("bert-base", "I-BERT", tokens=2, seed=6)
    assert [s for s, *_ in adds] == ["L0.attn_sum", "L0.mlp_sum"]
    assert [s for s, _ in norms] == ["L0.attn_norm", "L0.mlp_norm"]
    for (_, x, y, out), (_, normed) in zip(adds, norms):
        assert normed is out  # post-LN: the norm's input is the add's integer output
        terms = []
        for t in (x, y):
            ratio = Fraction(float(t.scale)) / Fraction(float(out.scale))
            mant, e = batch_frexp(float(ratio), 31)
            assert abs(Fraction(mant, 2 ** e) - ratio) <= ratio * Fraction(1, 2 ** 30)
            terms.append([[_half_even(Fraction(int(v) * mant, 2 ** e)) for v in row] for row in t.q])
        top = (1 << 15) - 1
        want = [[min(max(a + b, -top), top) for a, b in zip(ra, rb)] for ra, rb in zip(*terms)]
        assert out.q.dtype == np.int64 and out.q.tolist() == want


def test_integer_recipes_report_the_float_paths_ops():
    """The errors table of an integer-only recipe names the same ops as a float recipe's, GEMM
    outputs stacked the same way (GQA: query heads of a KV head), so per-op errors compare."""
    from mapping import model_from_dict

    m = model_from_dict(TINY_LLAMA, name="tiny")
    ib = run_layer_numerics(m, "I-BERT", tokens=4, seed=2)
    i8 = run_layer_numerics(m, "INT8", tokens=4, seed=2)
    assert list(ib.errors.op) == list(i8.errors.op)
    assert [g.note for g in ib.gemms if g.name == "attn_scores[1]"] == ["query head 2", "query head 3"]
    assert i8.trace == [] and np.array_equal(ib.reference, i8.reference)


def test_ibert_recipe_against_its_float_kernel_twin():
    from dataclasses import replace

    from hw.formats import parse

    ib = parse_recipe("I-BERT")
    r = run_layer_numerics("bert-base", ib, tokens=4, seed=2)
    checks = r.gemm_checks(samples=4)
    assert set(checks.a_fmt) == {"int8", "uint8"} and (checks.equal == checks.checked).all()
    assert str(r.gemms[0].out_fmt) == "int32"
    # same GEMM formats with float nonlinear units: the integer kernels change the output
    fl = run_layer_numerics("bert-base", replace(ib, nonlinear="float", accumulator=parse("float32"),
                                                 nonlinear_io=parse("float16")), tokens=4, seed=2)
    assert fl.trace == [] and not (r.output == fl.output).all()
    assert 0 < fl.rel_rms_error < r.rel_rms_error < 1


def test_integer_recipe_errors():
    from mapping import model_from_dict

    opt = model_from_dict({"model_type": "opt", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1,
                           "ffn_dim": 128, "max_position_embeddings": 64, "activation_function": "relu"}, name="opt")
    with pytest.raises(SimulationError) as e:
        run_layer_numerics(opt, "I-BERT", tokens=4)
    assert str(e.value) == "numerics mode with integer kernels must have a GELU or SwiGLU FFN, not relu (opt)"
