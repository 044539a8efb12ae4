"""Decoders on tiny checkpoints written here in Hugging Face layout (GPT-2 and LLaMA naming; no
decoder weights are on the registries): the float64 forward against transformers' own models
(installed with the MiniLM checkpoint package), KV-cache decode equal to recomputation, recipes
with their KV-cache formats producing next-token metrics."""
from __future__ import annotations

import numpy as np
import pytest

from mapping import load_checkpoint, parse_recipe
from sim import DECODER_METRICS, RecipeForward, calibrate, evaluate_accuracy, reference_forward
from tests.mapping.test_checkpoint import write_checkpoint

IDS = np.array([3, 5, 7, 1, 2, 9, 11, 4, 6, 8, 12, 13])


@pytest.fixture(scope="module", params=["gpt2", "llama", "qwen2"])
def tiny(request, tmp_path_factory):
    return load_checkpoint(write_checkpoint(tmp_path_factory.mktemp(request.param) / request.param, request.param))


def test_reference_matches_transformers(tiny):
    import torch
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(str(tiny.path), dtype=torch.float64)
    with torch.no_grad():
        theirs = model(torch.tensor(IDS[None])).logits[0].numpy()
    ours = reference_forward(tiny, IDS, cached=False).logits
    # GPT-2 agrees to float64 rounding; LLaMA/Qwen2 to ~1e-6: transformers computes the rotary
    # frequencies in float32 (ours are float64)
    tol = 1e-12 if tiny.family == "gpt2" else 1e-5
    assert np.max(np.abs(ours - theirs)) < tol * np.max(np.abs(theirs))


@pytest.mark.parametrize("prefill", [1, 5, 12])
def test_kv_cache_decode_equals_recomputation(tiny, prefill):
    full = reference_forward(tiny, IDS, cached=False)
    dec = reference_forward(tiny, IDS, prefill=prefill)
    assert np.allclose(dec.logits, full.logits, rtol=0, atol=1e-12 * np.abs(full.logits).max())
    for a, b in zip(dec.hidden, full.hidden):
        assert np.allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())


def test_recipes_with_kv_formats_produce_metrics(tiny):
    seqs = [IDS, IDS[:7][::-1].copy()]
    recipes = [parse_recipe(n) for n in ("FP16", "INT8", "FP8", "W4A8KV4")]
    res = evaluate_accuracy(tiny, recipes, seqs)
    m = res.metrics.set_index("recipe")
    for name in DECODER_METRICS:
        assert np.all(np.isfinite(m[name])), name
    assert np.all((m["top1_agreement"] >= 0) & (m["top1_agreement"] <= 1)) and np.all(m["kl_mean"] >= 0)
    assert np.allclose(m["ppl_reference"], m["ppl_reference"].iloc[0])  # one reference for every recipe


def test_quantized_decode_reads_the_stored_cache(tiny):
    """A recipe's decode step attends over the KV codes written at prefill: running prefill 6 then
    decode gives the same prefill logits as a prefill-only run and finite decode logits."""
    fwd = RecipeForward(tiny, parse_recipe("W4A8KV4"))
    a = fwd.run(IDS, prefill=6)
    b = fwd.run(IDS[:6], prefill=6)
    assert np.array_equal(a.logits[:6], b.logits)
    assert np.all(np.isfinite(a.logits[6:]))


@pytest.mark.parametrize("name", ["INT8", "W4A8KV4", "I-BERT"])
def test_row_independent_recipes_decode_bit_exactly_as_recomputed(tiny, name):
    """Recipes whose scales are per token (or static) give the same logits, bit for bit, whether
    the sequence is decoded through the stored KV cache or recomputed in one prefill."""
    cal = calibrate(tiny, [IDS])
    fwd = RecipeForward(tiny, parse_recipe(name), calibration=cal)
    dec = fwd.run(IDS, prefill=4)
    full = fwd.run(IDS, prefill=len(IDS))
    assert np.array_equal(dec.logits, full.logits)


@pytest.mark.parametrize("name", ["I-BERT", "I-ViT"])
def test_integer_only_decoder(tiny, name):
    recipe = parse_recipe(name)
    fwd = RecipeForward(tiny, recipe, calibration=calibrate(tiny, [IDS]))
    out = fwd.run(IDS, prefill=6)
    assert fwd.integer_only and np.all(np.isfinite(out.logits))
    ops = {op for _, op, _, _ in fwd.trace}
    k = recipe.kernels
    want = {k["rmsnorm"], k["silu_mul"].replace("int_silu", "int_swiglu"), "int_rope"} if tiny.family == "llama" \
        else {k["layernorm"], k["gelu"]}
    assert want | {"embed", "gemm", k["softmax"], "add"} <= ops
    for site, op, ins, outs in fwd.trace:
        assert all(np.dtype(t).kind in "iu" for t in ins.split(",") + [outs]), (site, op, ins, outs)
    ref = reference_forward(tiny, IDS)
    assert np.mean(np.argmax(out.logits, 1) == np.argmax(ref.logits, 1)) > 0.5


@pytest.mark.parametrize("name, before", [("I-BERT", "gemm"), ("I-ViT", "requant8")])
def test_softmax_input_is_what_the_kernel_takes(tiny, name, before):
    """I-BERT's softmax takes the int32 scores; I-ViT's Shiftmax takes them requantised to int8
    (I-ViT's ``qact_attn1`` before ``int_softmax``): in the trace, every softmax follows that op at
    its site, and I-ViT's softmax inputs (masked positions apart) are int8."""
    recipe = parse_recipe(name)
    fwd = RecipeForward(tiny, recipe, calibration=calibrate(tiny, [IDS]))
    fwd.run(IDS, prefill=6)
    sm = recipe.kernels["softmax"]
    seen = 0
    for prev, cur in zip(fwd.trace, fwd.trace[1:]):
        if cur[1] == sm:
            assert prev[1] == before and (before == "gemm" or prev[0] == cur[0]), (prev, cur)
            seen += 1
    assert seen > 0
