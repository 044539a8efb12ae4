"""The whole forward pass on the real all-MiniLM-L6-v2: the float64 reference against
sentence-transformers (an independent implementation, installed with the checkpoint package),
known properties of the model, every headline recipe producing metrics, the I-BERT path being
integer-only, and the vectorised dyadic requantizer against hw.nonlinear's golden model."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from hw.nonlinear import DyadicRequantizer, batch_frexp
from mapping import load_checkpoint, parse_recipe, recipe_from_dict
from sim import (ENCODER_METRICS, RecipeForward, calibrate, dyadic_requantize, evaluate_accuracy,
                 reference_forward, sentence_embeddings, tokenize_lines)

ROOT = Path(__file__).resolve().parents[2]
TEXT = ROOT / "examples" / "texts" / "sentences.txt"
#: lines 2k-1 and 2k (k = 1..12) of the shipped text are paraphrases; lines 25..32 are unrelated
PAIRS = 12

FP32 = recipe_from_dict({"name": "FP32", "weights": {"format": "float32"}, "activations": {"format": "float32"},
                         "kv_cache": {"format": "float32"}, "nonlinear": {"io_format": "float32"}})


@pytest.fixture(scope="session")
def minilm(tmp_path_factory):
    from all_minilm_l6_v2 import extract_model

    return load_checkpoint(Path(extract_model(str(tmp_path_factory.mktemp("minilm_fwd")))))


@pytest.fixture(scope="session")
def lines() -> list[str]:
    return TEXT.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="session")
def reference(minilm, lines):
    seqs = tokenize_lines(minilm, lines, max_tokens=128)
    return seqs, reference_forward(minilm, seqs)


def test_reference_matches_sentence_transformers(minilm, lines, reference):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(minilm.path), device="cpu")
    theirs = model.encode(lines, convert_to_numpy=True, normalize_embeddings=True).astype(np.float64)
    ours = sentence_embeddings([r.last_hidden for r in reference[1]])
    # theirs is a float32 torch forward: agreement to float32 rounding, not to a loose tolerance
    assert np.max(np.abs(ours - theirs)) < 1e-6
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    assert np.min(np.sum(ours * theirs, axis=1)) > 1 - 1e-12


def test_reference_properties(reference):
    e = sentence_embeddings([r.last_hidden for r in reference[1]])
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-12)
    sim = e @ e.T
    for k in range(PAIRS):
        a, b = 2 * k, 2 * k + 1
        others = [j for j in range(len(e)) if j not in (a, b)]
        assert sim[a, b] > max(sim[a, others].max(), sim[b, others].max()), k


def test_stacked_lines_keep_their_own_scales(minilm, reference):
    """Lines stacked into shared GEMMs give exactly what each line gives alone (FP8 has a
    per-tensor activation scale, so this checks that the scale stays per line)."""
    seqs = reference[0][:3]
    fwd = RecipeForward(minilm, parse_recipe("FP8"))
    together = fwd.run(list(seqs))
    for ids, res in zip(seqs, together):
        alone = fwd.run(ids)
        assert all(np.array_equal(a, b) for a, b in zip(alone.hidden, res.hidden))


def test_every_recipe_produces_metrics(minilm, reference):
    seqs = reference[0][:4]
    recipes = [FP32] + [parse_recipe(n) for n in ("BF16", "FP16", "INT8", "FP8", "W4A8", "MXFP4", "I-BERT")]
    res = evaluate_accuracy(minilm, recipes, seqs)
    m = res.metrics.set_index("recipe")
    assert list(m.index) == [r.name for r in recipes]
    for name in ENCODER_METRICS:
        assert np.all(np.isfinite(m[name])) and np.all(m[name] <= 1 + 1e-12), name
    assert len(res.layer_errors) == len(recipes) * (minilm.config.n_layers + 1)
    # more significand bits, smaller error: FP32 < FP16 (10 bits) < BF16 (7 bits)
    final = m["final_rel_rms"]
    assert final["FP32"] < final["FP16"] < final["BF16"]
    # FP32 everywhere is float32 rounding of a float64 forward: indistinguishable embeddings
    assert m.loc["FP32", "cosine_min"] > 1 - 1e-9
    assert "integer-only from the embedding tables to the last hidden state" in res.notes["I-BERT"]


def test_ibert_is_integer_only(minilm, reference):
    seqs = reference[0][:2]
    fwd = RecipeForward(minilm, parse_recipe("I-BERT"), calibration=calibrate(minilm, reference[0]))
    out = fwd.run(list(seqs))
    assert fwd.integer_only
    trace = fwd.trace
    ops = {op for _, op, _, _ in trace}
    assert {"embed", "gemm", "requant8", "ibert_int_softmax", "ibert_int_gelu", "ibert_int_layernorm", "add"} <= ops
    for site, op, ins, outs in trace:  # every op boundary carries integer arrays only
        assert all(np.dtype(t).kind in "iu" for t in ins.split(",") + [outs]), (site, op, ins, outs)
    n = minilm.config.n_layers
    assert sum(op == "ibert_int_layernorm" for _, op, _, _ in trace) == 2 * n + 1
    assert sum(op == "ibert_int_gelu" for _, op, _, _ in trace) == n
    assert sum(op == "ibert_int_softmax" for _, op, _, _ in trace) == n * minilm.config.n_heads * len(seqs)
    ref = sentence_embeddings([r.last_hidden for r in reference[1][:2]])
    got = sentence_embeddings([r.last_hidden for r in out])
    assert np.all(np.sum(ref * got, axis=1) > 0.5)  # a working model, not noise


def test_dyadic_requantize_matches_golden_requantizer():
    rng = np.random.default_rng(3)
    x = rng.integers(-(1 << 31) + 1, 1 << 31, size=(64, 5))
    x[:4] = [[0, 1, -1, 3, -3]] * 4  # exact halves and small values
    ratios = np.array([0.5, 1e-3, 2.0 ** -20, 0.123456789, 3e-9])
    got = dyadic_requantize(x, ratios, 8)
    for c, r in enumerate(ratios):
        m, e = batch_frexp(float(r))
        golden = DyadicRequantizer(m, e, -128, 127, "half_even").forward(x[:, c][None, :])[0]
        assert np.array_equal(got[:, c], golden), r


def test_bf16_vector_ops_round_float64_once():
    """Vector ops of a recipe accumulating in bfloat16 round a float64 value once (ml_dtypes' own cast goes through
    float32 and rounds twice): 1 + 2**-8 + 2**-40 is just above the tie between bf16 codes 16256
    and 16257, so it rounds up, as the exact rational says."""
    from fractions import Fraction

    import ml_dtypes

    from mapping import parse_recipe
    from sim._forward import _FloatBackend

    x = 1 + 2.0**-8 + 2.0**-40
    lo, hi = Fraction(1), Fraction(1) + Fraction(1, 128)  # neighbouring bf16 values around x
    assert Fraction(x) - lo > hi - Fraction(x) or Fraction(x) - lo < hi - Fraction(x)  # not a tie
    want = hi if Fraction(x) - lo > hi - Fraction(x) else lo
    assert np.array(x).astype(ml_dtypes.bfloat16).view(np.uint16) == 16256  # the double rounding
    from dataclasses import replace

    from hw.formats import parse

    backend = _FloatBackend(None, replace(parse_recipe("BF16"), accumulator=parse("bfloat16")))
    got = backend._c(np.array([x]))
    assert got.dtype == ml_dtypes.bfloat16 and Fraction(float(got[0])) == want == hi
