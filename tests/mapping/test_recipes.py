"""Recipes: shorthands, bytes per element from the formats (amortised scales), TOML parsing."""
from __future__ import annotations

import pytest

from hw.formats import parse
from mapping import RECIPE_NAMES, RecipeError, load_recipe_toml, parse_recipe


def test_bytes_per_element_from_formats():
    # MX: 4-bit elements + one 8-bit E8M0 scale per 32 (OCP MX v1.0)
    assert parse_recipe("MXFP4").bytes_per_element("weight") == (4 + 8 / 32) / 8
    # W4A8: INT4 weights with an FP16 scale per group of 128
    assert parse_recipe("W4A8").bytes_per_element("weight") == (4 + 16 / 128) / 8
    assert parse_recipe("W4A8").bytes_per_element("activation") == 1
    # FP6-LLM: weight-only E3M2, FP16 activations
    fp6 = parse_recipe("FP6")
    assert fp6.weights.format == parse("e3m2fn") and fp6.bytes_per_element("weight") == 6 / 8
    assert fp6.bytes_per_element("activation") == 2
    assert parse_recipe("W4A8KV4").bytes_per_element("kv") == (4 + 16 / 64) / 8
    assert parse_recipe("FP16").bytes_per_element("kv") == 2
    assert parse_recipe("I-BERT").nonlinear == "ibert"


def test_aliases_and_unknown():
    assert parse_recipe("w8a8") is parse_recipe("INT8")
    assert parse_recipe("fp8").name == "FP8"
    assert len(RECIPE_NAMES) == 12
    with pytest.raises(RecipeError) as e:
        parse_recipe("W3A7")
    assert str(e.value) == ("recipe must be one of FP16, BF16, INT8, W4A8, W4A8-FP8, FP8, FP6, MXFP4, MXFP8, "
                            "W4A8KV4, I-BERT, I-ViT or a .toml path, not 'W3A7'")


def test_recipe_toml(tmp_path):
    p = tmp_path / "w4g64.toml"
    p.write_text('name = "w4g64"\n[weights]\nformat = "int4"\ngranularity = "group"\ngroup_size = 64\n'
                 'scale_format = "float16"\n[activations]\nformat = "e4m3fn"\n[kv_cache]\nformat = "e5m2"\n')
    r = load_recipe_toml(p)
    assert r.name == "w4g64" and r.bytes_per_element("weight") == (4 + 16 / 64) / 8
    assert r.bytes_per_element("kv") == 1 and r.activations.format == parse("e4m3fn")
    p.write_text('rounding = "rne"\n[weights]\nformat = "int4"\n[activations]\nformat = "int8"\n')
    with pytest.raises(RecipeError) as e:
        load_recipe_toml(p)
    assert str(e.value) == f"recipe keys must be among ['accumulator', 'activations', 'kv_cache', 'name', " \
                           f"'nonlinear', 'weights'] ({p}), not ['rounding']"
    p.write_text('[weights]\nformat = "int4"\n[activations]\nformat = "int8"\nrounding = "rne"\n')
    with pytest.raises(RecipeError) as e:
        load_recipe_toml(p)
    assert str(e.value) == ("recipe [activations] keys must be among ['format', 'granularity', 'group_size', "
                            "'scale_format'], not ['rounding']")
    p.write_text('[weights]\nformat = "int4"\n[activations]\nformat = "int9x"\n')
    with pytest.raises(RecipeError, match=r"^recipe \[activations\]: format name must be a known format"):
        load_recipe_toml(p)


def test_example_recipe_toml_parses():
    from pathlib import Path
    ex = Path(__file__).resolve().parents[2] / "examples" / "recipe_w4a8_g64.toml"
    r = parse_recipe(str(ex))
    assert r.name == "W4A8-g64"


def test_recipe_toml_table_that_is_not_a_table(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text('accumulator = "fp32"\n[weights]\nformat = "int8"\n[activations]\nformat = "int8"\n')
    with pytest.raises(RecipeError) as e:
        load_recipe_toml(p)
    assert str(e.value) == f"recipe [accumulator] must be a table ({p}), not 'fp32'"


def test_integer_recipes_name_their_papers_kernels():
    from hw.nonlinear import KERNELS

    ibert, ivit = parse_recipe("I-BERT"), parse_recipe("i-vit")
    assert ivit.name == "I-ViT" and ivit.nonlinear == "ivit"
    assert {f: ibert.kernels[f] for f in ("softmax", "gelu", "layernorm")} == {
        "softmax": "ibert_int_softmax", "gelu": "ibert_int_gelu", "layernorm": "ibert_int_layernorm"}
    assert {f: ivit.kernels[f] for f in ("softmax", "gelu", "layernorm")} == {
        "softmax": "ivit_shiftmax", "gelu": "ivit_shiftgelu", "layernorm": "ivit_int_layernorm"}
    assert set(ibert.kernels.values()) | set(ivit.kernels.values()) <= set(KERNELS)
    assert parse_recipe("INT8").kernels == {}


@pytest.mark.parametrize("text, message", [
    ('[weights]\nformat = "int4"\ngranularity = "group"\ngroup_size = 0\n[activations]\nformat = "int8"\n',
     "recipe [weights] group_size must be a positive integer with granularity 'group', not 0"),
    ('[weights]\nformat = "int4"\ngranularity = "group"\ngroup_size = "x"\n[activations]\nformat = "int8"\n',
     "recipe [weights] group_size must be a positive integer, not 'x'"),
    ('[weights]\nformat = "int4"\ngranularity = "row"\n[activations]\nformat = "int8"\n',
     "recipe [weights] granularity must be one of tensor, channel, token, group, block, not 'row'"),
    ('[weights]\nformat = "int4"\n[activations]\nformat = "int8"\n[accumulator]\nformat = "float32"\nbits = 3\n',
     "recipe [accumulator] keys must be among ['format', 'mode'], not ['bits']"),
    ('[weights]\nformat = "int4"\n[activations]\nformat = "int8"\n[nonlinear]\nkind = "ibert"\nsoftmax = "x"\n',
     "recipe [nonlinear] keys must be among ['io_format', 'kind'], not ['softmax']"),
    ('[weights]\nformat = "int4"\n[activations]\nformat = "int8"\n[nonlinear]\nkind = "fancy"\n',
     "recipe [nonlinear] kind must be one of float, ibert, ivit, not 'fancy'"),
    ('[weights]\ngranularity = "channel"\n[activations]\nformat = "int8"\n',
     "recipe [weights] must have a 'format', not only ['granularity']"),
])
def test_recipe_field_errors(tmp_path, text, message):
    p = tmp_path / "r.toml"
    p.write_text(text)
    with pytest.raises(RecipeError) as e:
        load_recipe_toml(p)
    assert str(e.value) == message
