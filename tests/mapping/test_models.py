"""Model configs and the workload graph: shapes checked against published parameter counts."""
from __future__ import annotations

import json

import pytest

from mapping import GemmOp, ModelConfigError, VectorOp, layer_ops, load_model, model_ops, model_from_dict, MODEL_NAMES


def _weight_elements(model) -> int:
    return sum(op.K * op.N for op in layer_ops(model, tokens=1) if isinstance(op, GemmOp) and op.b_role == "weight")


@pytest.mark.parametrize("name, vocab, published", [
    # parameter counts reported by the Hugging Face model cards / safetensors metadata
    ("llama2-7b", 32000, 6_738_415_616),
    ("llama2-70b", 32000, 68_976_648_192),
    ("llama3-8b", 128256, 8_030_261_248),
])
def test_llama_parameter_counts(name, vocab, published):
    m = load_model(name)
    norms = m.n_layers * 2 * m.d_model + m.d_model
    embeddings = 2 * vocab * m.d_model  # untied input embedding and LM head
    assert m.n_layers * _weight_elements(m) + norms + embeddings == published


def test_bert_base_encoder_weights():
    m = load_model("bert-base")
    # 12 layers x (4 d^2 + 2 d d_ff) = 84,934,656 weight elements (biases excluded)
    assert m.n_layers * _weight_elements(m) == 12 * (4 * 768 ** 2 + 2 * 768 * 3072)
    assert not m.decoder and m.default_tokens == 512


def test_gqa_and_natural_lengths():
    assert load_model("llama3-8b").group_size == 4
    assert load_model("llama2-70b").group_size == 8
    assert load_model("llama2-7b").group_size == 1
    assert load_model("vit-b16").default_tokens == (224 // 16) ** 2 + 1
    assert load_model("whisper-large-v2-encoder").default_tokens == 1500
    assert load_model("gpt2").d_ff == 4 * 768
    assert load_model("llama2-7b").default_tokens == 512 and load_model("gpt2").max_positions == 1024


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_prefill_macs_match_formula(name):
    m = load_model(name)
    S = 64
    ops = layer_ops(m, tokens=S)
    hd, h, kv = m.head_dim, m.n_heads, m.n_kv_heads
    ffn = (3 if m.ffn == "silu_gated" else 2) * m.d_model * m.d_ff
    proj = m.d_model * hd * (2 * h + 2 * kv)
    attention = 2 * h * S * S * hd
    assert sum(op.macs for op in ops if isinstance(op, GemmOp)) == S * (proj + ffn) + attention


def test_decode_step_reads_growing_kv_cache():
    m = load_model("llama3-8b")
    ops = {op.name: op for op in layer_ops(m, tokens=1, past=99, batch=3)}
    s = ops["attn_scores"]
    assert (s.M, s.K, s.N, s.count, s.b_role) == (4, 128, 100, 3 * 8, "kv")
    c = ops["attn_context"]
    assert (c.M, c.K, c.N) == (4, 100, 128)
    sm = ops["softmax"]
    assert isinstance(sm, VectorOp) and (sm.rows, sm.length) == (3 * 32, 100)


def test_local_config_and_errors(tmp_path):
    base = {"model_type": "llama", "hidden_size": 256, "num_attention_heads": 8, "num_key_value_heads": 2,
            "num_hidden_layers": 2, "intermediate_size": 512, "max_position_embeddings": 128, "hidden_act": "silu"}
    p = tmp_path / "tiny.json"
    p.write_text(json.dumps(base))
    m = load_model(str(p))
    assert (m.name, m.head_dim, m.group_size) == ("tiny", 32, 4)
    folder = tmp_path / "tiny-llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(base))
    assert load_model(str(folder)).name == "tiny-llama"
    del base["intermediate_size"]
    p.write_text(json.dumps(base))
    with pytest.raises(ModelConfigError) as e:
        load_model(str(p))
    assert str(e.value) == (f"config.json field 'intermediate_size' must be present for model_type 'llama' "
                            f"({p}), not missing")
    with pytest.raises(ModelConfigError) as e:
        load_model("llama-9")
    assert str(e.value) == ("model must be one of bert-base, gpt2, llama2-7b, llama2-70b, llama3-8b, mistral-7b, "
                            "qwen2-7b, vit-b16, whisper-large-v2-encoder or a config.json path, not 'llama-9'")


def test_kv_cache_longer_than_context():
    m = load_model("gpt2")
    with pytest.raises(ModelConfigError) as e:
        layer_ops(m, tokens=1, past=1024)
    assert str(e.value) == ("KV cache length (past + tokens = 1025) must be at most the context of gpt2 "
                            "(1024 tokens), not 1025")


# ---- model families: published config.json values and published parameter counts -------------
PHI3_MINI = {"model_type": "phi3", "hidden_act": "silu", "hidden_size": 3072, "intermediate_size": 8192,
             "max_position_embeddings": 4096, "num_attention_heads": 32, "num_hidden_layers": 32,
             "num_key_value_heads": 32, "rms_norm_eps": 1e-05, "rope_scaling": None, "sliding_window": 2047,
             "tie_word_embeddings": False, "vocab_size": 32064}  # microsoft/Phi-3-mini-4k-instruct
FALCON_7B = {"model_type": "falcon", "alibi": False, "bias": False, "hidden_size": 4544, "multi_query": True,
             "new_decoder_architecture": False, "num_attention_heads": 71, "num_hidden_layers": 32,
             "parallel_attn": True, "vocab_size": 65024}  # tiiuae/falcon-7b
OPT_125M = {"model_type": "opt", "activation_function": "relu", "do_layer_norm_before": True, "ffn_dim": 3072,
            "hidden_size": 768, "max_position_embeddings": 2048, "num_attention_heads": 12,
            "num_hidden_layers": 12, "vocab_size": 50272, "word_embed_proj_dim": 768}  # facebook/opt-125m
ROBERTA_BASE = {"model_type": "roberta", "hidden_act": "gelu", "hidden_size": 768, "intermediate_size": 3072,
                "max_position_embeddings": 514, "num_attention_heads": 12, "num_hidden_layers": 12,
                "pad_token_id": 1, "vocab_size": 50265}  # FacebookAI/roberta-base


def _matrix_elements(m) -> int:
    """Weight-matrix elements of the whole model from the workload graph: layers x per-layer
    weights + the embedding table + the LM head unless tied (biases and norms excluded)."""
    before, after = model_ops(m, tokens=1)
    head = sum(op.K * op.N for op in after if isinstance(op, GemmOp))
    table = m.vocab_size * m.d_model
    return m.n_layers * _weight_elements(m) + table + (0 if m.tied_embeddings else head)


@pytest.mark.parametrize("cfg, published, vectors", [
    # (model, parameter count on its Hugging Face model card / safetensors metadata, norm and bias
    #  vectors per layer in units of d_model, plus extra bias elements per layer)
    ("mistral-7b", 7_241_732_096, (2, 0)),
    ("qwen2-7b", 7_615_616_512, (2, 3584 + 2 * 512)),  # q, k, v biases
    (PHI3_MINI, 3_821_079_552, (2, 0)),
    (FALCON_7B, 6_921_720_704, (2, 0)),  # one LayerNorm (weight + bias) per layer: parallel attention
])
def test_parameter_counts_of_new_families(cfg, published, vectors):
    m = load_model(cfg) if isinstance(cfg, str) else model_from_dict(cfg, name="m")
    per_layer_vectors, biases = vectors
    final_norm = m.d_model * (2 if m.norm == "layernorm" else 1)
    total = _matrix_elements(m) + m.n_layers * (per_layer_vectors * m.d_model + biases) + final_norm
    assert total == published


def test_family_shapes():
    phi = model_from_dict(PHI3_MINI, name="phi3")
    assert (phi.group_size, phi.sliding_window, phi.ffn, phi.norm, phi.positions) == (1, 2047, "silu_gated",
                                                                                         "rmsnorm", "rotary")
    falcon = model_from_dict(FALCON_7B, name="falcon")
    assert (falcon.n_kv_heads, falcon.head_dim, falcon.d_ff, falcon.max_positions) == (1, 64, 4 * 4544, 2048)
    assert falcon.parallel_attn and falcon.tied_embeddings
    opt = model_from_dict(OPT_125M, name="opt")
    assert (opt.ffn, opt.norm, opt.positions, opt.tied_embeddings) == ("relu", "layernorm", "learned", True)
    rob = model_from_dict(ROBERTA_BASE, name="roberta")
    assert (rob.decoder, rob.default_tokens, rob.max_positions) == (False, 512, 512)
    mistral, qwen = load_model("mistral-7b"), load_model("qwen2-7b")
    assert (mistral.sliding_window, mistral.group_size) == (4096, 4)
    assert (qwen.sliding_window, qwen.group_size, qwen.qkv_bias) == (None, 7, True)  # use_sliding_window false
    scaled = model_from_dict({**PHI3_MINI, "rope_scaling": {"rope_type": "linear", "factor": 2.0}}, name="s")
    assert scaled.rope_scaling == "linear x2.0"


def test_layer_ops_of_new_families():
    falcon = model_from_dict(FALCON_7B, name="falcon")
    names = [op.name for op in layer_ops(falcon, tokens=4)]
    assert "ffn_norm" not in names and "attn_residual" not in names
    res = [op for op in layer_ops(falcon, tokens=4) if op.name == "residual"]
    assert len(res) == 1 and res[0].inputs == 3
    opt = {op.name: op for op in layer_ops(model_from_dict(OPT_125M, name="opt"), tokens=4)}
    assert opt["relu"].function == "relu" and "rope_q" not in opt
    llama = {op.name: op for op in layer_ops(load_model("llama3-8b"), tokens=4)}
    assert (llama["rope_q"].rows, llama["rope_q"].length) == (4 * 32, 128)
    assert (llama["rope_k"].rows, llama["rope_k"].in_role) == (4 * 8, "kv")


def test_sliding_window_caps_decode_keys():
    m = load_model("mistral-7b")
    ops = {op.name: op for op in layer_ops(m, tokens=1, past=9999)}
    assert ops["attn_scores"].N == 4096 and ops["attn_context"].K == 4096 and ops["softmax"].length == 4096
    ops = {op.name: op for op in layer_ops(m, tokens=1, past=99)}
    assert ops["attn_scores"].N == 100


def test_model_ops():
    before, after = model_ops(load_model("llama2-7b"), tokens=7, batch=3)
    (emb,) = before
    assert (emb.function, emb.rows, emb.length, emb.inputs, emb.in_role) == ("embedding", 21, 4096, 1, "weight")
    norm, head = after
    assert (norm.function, norm.rows) == ("rmsnorm", 3)
    assert (head.M, head.K, head.N) == (3, 4096, 32000)  # last token of each sequence
    before, after = model_ops(load_model("gpt2"), tokens=2)
    assert before[0].inputs == 2  # token + learned position embedding
    assert model_ops(load_model("vit-b16"), tokens=197) == ([], [])


@pytest.mark.parametrize("patch, message", [
    ({"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 2, "n_positions": 64, "n_inner": "abc"},
     "config.json field 'n_inner' must be a positive integer ({p}), not 'abc'"),
    ({"num_key_value_heads": "abc"}, "config.json field 'num_key_value_heads' must be a positive integer ({p}), not 'abc'"),
    ({"num_key_value_heads": 8.0}, "config.json field 'num_key_value_heads' must be a positive integer ({p}), not 8.0"),
    ({"num_key_value_heads": -4}, "config.json field 'num_key_value_heads' must be a positive integer ({p}), not -4"),
    ({"intermediate_size": 10 ** 12}, "config.json field 'intermediate_size' must be at most 262144 ({p}), "
                                      "not 1000000000000"),
    ({"tie_word_embeddings": "yes"}, "config.json field 'tie_word_embeddings' must be true or false ({p}), not 'yes'"),
    ({"model_type": "mamba"}, "config.json model_type must be one of bert, falcon, gpt2, llama, mistral, opt, phi3, "
                              "qwen2, roberta, vit, whisper ({p}), not 'mamba'"),
])
def test_field_errors_name_the_field(tmp_path, patch, message):
    base = {"model_type": "mistral", "hidden_size": 256, "num_attention_heads": 8, "num_key_value_heads": 2,
            "num_hidden_layers": 2, "intermediate_size": 512, "max_position_embeddings": 128}
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(patch if "n_inner" in patch else {**base, **patch}))
    with pytest.raises(ModelConfigError) as e:
        load_model(str(p))
    assert str(e.value) == message.format(p=p)


def test_qwen2_sliding_window_only_when_used():
    import json as _json
    from importlib import resources

    cfg = _json.loads(resources.files("mapping").joinpath("configs", "qwen2-7b.json").read_text())
    assert model_from_dict(cfg, name="q").sliding_window is None
    assert model_from_dict({**cfg, "use_sliding_window": True}, name="q").sliding_window == 131072
