"""A sweep whose ``[accuracy]`` names a checkpoint and a text: the accuracy axis is
``sim.evaluate_accuracy``'s metric on the real all-MiniLM-L6-v2 (checked against a direct call),
evaluated once per recipe and cached; the synthetic one-layer error stays as ``synthetic_*``;
the report's statement names the model, text and metric; bad ``[accuracy]`` tables fail with one
line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mapping import load_checkpoint
from reports.errors import SpecError
from reports.sweep import run_sweep, spec_from_dict
from reports.sweep._report import accuracy_statement
from sim import evaluate_accuracy, tokenize_lines
from sim._numerics import run_layer_numerics

ROOT = Path(__file__).resolve().parents[2]
TEXT = ROOT / "examples" / "texts" / "sentences.txt"


@pytest.fixture(scope="module")
def minilm_dir(tmp_path_factory) -> Path:
    from all_minilm_l6_v2 import extract_model

    return Path(extract_model(str(tmp_path_factory.mktemp("minilm_sweep"))))


@pytest.fixture(scope="module")
def few_lines(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("text") / "four.txt"
    p.write_text("\n".join(TEXT.read_text(encoding="utf-8").splitlines()[:4]) + "\n", encoding="utf-8")
    return p


def _doc(minilm_dir: Path, text: Path, **acc) -> dict:
    return {"name": "ckpt", "metrics": ["accuracy"], "layers": 1,
            "axes": {"model": ["bert-base"], "recipe": ["INT8", "MXFP4"], "array": ["16x16", "32x32"]},
            "accuracy": {"tokens": 4, "checkpoint": str(minilm_dir), "text": str(text), "max_tokens": 24, **acc}}


def test_checkpoint_metric_is_the_accuracy_axis(minilm_dir, few_lines, tmp_path) -> None:
    spec = spec_from_dict(_doc(minilm_dir, few_lines), source="ckpt.toml")
    res = run_sweep(spec, tmp_path / "out", workers=1, cache=tmp_path / "cache", progress=False)
    f = res.frame
    assert (f["status"] == "ok").all(), f["error"].tolist()
    # one checkpoint evaluation and one synthetic evaluation per recipe, shared by both arrays
    assert res.evaluations_computed == 2 + 2
    ckpt = load_checkpoint(minilm_dir)
    seqs = tokenize_lines(ckpt, few_lines.read_text(encoding="utf-8").splitlines(), max_tokens=24)
    for rec, grp in f.groupby("recipe"):
        p = spec.points[int(grp["point"].iloc[0])]
        direct = evaluate_accuracy(ckpt, [p.recipe_obj()], seqs).metrics.iloc[0]
        assert (grp["output_error"] == 1.0 - direct["cosine_mean"]).all()
        assert (grp["accuracy_metric_value"] == direct["cosine_mean"]).all()
        assert (grp["accuracy_metric"] == "1 - cosine_mean").all()
        syn = run_layer_numerics(p.model, p.recipe_obj(), tokens=4, seed=0).rel_rms_error
        assert (grp["synthetic_output_error"] == syn).all()
        assert grp["accuracy_provenance"].iloc[0].startswith("measured: sim.evaluate_accuracy of checkpoint")
        assert "synthetic N(0,1) inputs" in grp["synthetic_accuracy_provenance"].iloc[0]
    # 4-bit loses more than 8-bit on real text
    err = f.groupby("recipe")["output_error"].first()
    assert err["MXFP4"] > err["INT8"] > 0
    manifest = json.loads((tmp_path / "out" / "sweep.json").read_text())
    text = accuracy_statement(manifest, f)
    assert str(minilm_dir) in text and str(few_lines) in text and "1 - cosine_mean" in text
    assert "synthetic_output_error" in text
    from reports.sweep._report import _pareto_plot

    plots = tmp_path / "plots"
    plots.mkdir()
    f = f.assign(latency_s=[1.0, 2.0, 3.0, 4.0])  # any cost: the y axis is what is checked
    _, svg, _ = _pareto_plot(f, "latency_s", "latency (ms)", 1e3, plots, stem="t")
    assert "output error (1 - cosine_mean, checkpoint)" in svg
    # a second sweep with another metric reuses the synthetic entries only
    spec2 = spec_from_dict(_doc(minilm_dir, few_lines, metric="final_rel_rms"), source="ckpt.toml")
    res2 = run_sweep(spec2, None, workers=1, cache=tmp_path / "cache", progress=False)
    assert res2.evaluations_computed == 2 and res2.evaluations_cached == 2
    assert (res2.frame["output_error"] == res2.frame["accuracy_metric_value"]).all()


def test_without_checkpoint_the_columns_are_unchanged(minilm_dir, few_lines) -> None:
    doc = _doc(minilm_dir, few_lines)
    del doc["accuracy"]["checkpoint"], doc["accuracy"]["text"]
    spec = spec_from_dict(doc, source="s.toml")
    assert spec.accuracy.checkpoint is None
    from reports.sweep import sources_for

    assert [type(s).__name__ for s in sources_for(spec.metrics, spec)] == ["AccuracySource"]


@pytest.mark.parametrize("acc,message", [
    ({"checkpoint": "."}, "s.toml: accuracy.text must be given together with accuracy.checkpoint, not None"),
    ({"text": "t.txt"}, "s.toml: accuracy.checkpoint must be given together with accuracy.text, not None"),
    ({"checkpoint": "nowhere", "text": "t.txt"},
     "s.toml: accuracy.checkpoint must be a model folder holding config.json, not 'nowhere'"),
    ({"metric": "bleu"}, "s.toml: accuracy.metric must be one of cosine_mean, cosine_min, spearman, "
                         "final_rel_rms, top1_agreement, kl_mean, not 'bleu'"),
    ({"max_tokens": 0}, "s.toml: accuracy.max_tokens must be a positive integer, not 0"),
])
def test_bad_accuracy_tables(acc, message, tmp_path) -> None:
    doc = {"metrics": ["accuracy"], "axes": {"recipe": ["INT8"]}, "accuracy": acc}
    with pytest.raises(SpecError) as e:
        spec_from_dict(doc, source="s.toml", base_dir=tmp_path)
    assert str(e.value) == message


def test_unreadable_text(minilm_dir, tmp_path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe not utf-8")
    doc = {"metrics": ["accuracy"], "axes": {"recipe": ["INT8"]},
           "accuracy": {"checkpoint": str(minilm_dir), "text": "bad.txt"}}
    with pytest.raises(SpecError) as e:
        spec_from_dict(doc, source="s.toml", base_dir=tmp_path)
    assert str(e.value).startswith("s.toml: accuracy.text must be a readable UTF-8 text file with a line "
                                   "(text file must be UTF-8")
