"""``lowbit accuracy``: outputs (table, JSON, saved hidden states that reproduce the reference
independently of the command) and bad input (one line on stderr, exit 2, nothing written)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mapping import load_checkpoint
from reports.cli import main
from sim import reference_forward, tokenize_lines
from tests.mapping.test_checkpoint import WORDS, write_checkpoint, write_tokenizer

TEXT = "the cat sat on the mat\nthe big red car runs fast\n\nshe was in the house\n"


@pytest.fixture()
def tiny(tmp_path) -> Path:
    return write_checkpoint(tmp_path / "gpt2", "gpt2")


@pytest.fixture()
def text(tmp_path) -> Path:
    p = tmp_path / "t.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p


def test_json_and_saved_outputs(tiny, text, tmp_path, capsys):
    out_json, out_dir = tmp_path / "acc.json", tmp_path / "outs"
    code = main(["accuracy", "--model", str(tiny), "--recipe", "INT8", "--recipe", "W4A8KV4", "--text", str(text),
                 "--json", str(out_json), "--save-outputs", str(out_dir), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "top1_agreement" in printed and "W4A8KV4" in printed
    doc = json.loads(out_json.read_text())
    assert doc["lines"] == 3 and doc["metric_kind"] == "decoder" and set(doc["recipes"]) == {"INT8", "W4A8KV4"}
    assert len(doc["recipes"]["INT8"]["layer_rel_rms"]) == 2 + 1
    assert sorted(p.name for p in out_dir.iterdir()) == ["INT8.npz", "W4A8KV4.npz", "reference.npz"]
    ck = load_checkpoint(tiny)
    seqs = tokenize_lines(ck, [ln for ln in TEXT.splitlines() if ln], max_tokens=128)
    with np.load(out_dir / "reference.npz") as z:
        assert z.files == ["line0", "line1", "line2"]
        for i, ids in enumerate(seqs):  # the saved reference is the float64 forward of the line
            full = reference_forward(ck, ids, cached=False)
            assert z[f"line{i}"].dtype == np.float64 and z[f"line{i}"].shape == (len(ids), 64)
            assert np.allclose(z[f"line{i}"], full.last_hidden, rtol=0, atol=1e-12)


def test_encoder_metrics_on_minilm(tmp_path, capsys):
    from all_minilm_l6_v2 import extract_model

    folder = Path(extract_model(str(tmp_path / "m")))
    text = tmp_path / "t.txt"
    text.write_text("A man plays a guitar.\nSomeone is playing the guitar.\nThe market fell today.\n")
    assert main(["accuracy", "--model", str(folder), "--recipe", "FP8", "--text", str(text), "--json",
                 str(tmp_path / "a.json"), "--no-progress", "--max-tokens", "8"]) == 0
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["metric_kind"] == "encoder" and doc["tokens"] <= 3 * 8
    assert {"cosine_min", "cosine_mean", "spearman", "final_rel_rms"} <= set(doc["recipes"]["FP8"])


def _fails(capsys, argv, message, *untouched: Path):
    code = main(argv + ["--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"lowbit: error: {message}\n"
    for p in untouched:
        assert not p.exists(), p


def test_folder_without_config(tmp_path, text, capsys):
    (tmp_path / "empty").mkdir()
    j, d = tmp_path / "a.json", tmp_path / "outs"
    _fails(capsys, ["accuracy", "--model", str(tmp_path / "empty"), "--recipe", "INT8", "--text", str(text),
                    "--json", str(j), "--save-outputs", str(d)],
           f"model folder must hold config.json, not be without it ({str(tmp_path / 'empty')!r})", j, d)


def test_folder_without_weights(tiny, text, tmp_path, capsys):
    (tiny / "model.safetensors").unlink()
    j = tmp_path / "a.json"
    _fails(capsys, ["accuracy", "--model", str(tiny), "--recipe", "INT8", "--text", str(text), "--json", str(j)],
           "model folder must hold model.safetensors or model.safetensors.index.json, not be without weights "
           f"({str(tiny)!r})", j)


def test_tokenizer_not_matching_vocabulary(tiny, text, tmp_path, capsys):
    n = write_tokenizer(tiny / "tokenizer.json", WORDS + [f"extra{i}" for i in range(30)])
    d = tmp_path / "outs"
    _fails(capsys, ["accuracy", "--model", str(tiny), "--recipe", "INT8", "--text", str(text),
                    "--save-outputs", str(d)],
           f"tokenizer vocabulary size must be at most the model's vocab_size 40 ({tiny / 'tokenizer.json'}), "
           f"not {n!r}", d)


def test_empty_text(tiny, tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    j = tmp_path / "a.json"
    _fails(capsys, ["accuracy", "--model", str(tiny), "--recipe", "INT8", "--text", str(empty), "--json", str(j)],
           f"text file must hold at least one non-empty line, not be empty ({str(empty)!r})", j)


def test_non_utf8_text(tiny, tmp_path, capsys):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\u00e9 au lait\n".encode("latin-1"))
    d = tmp_path / "outs"
    _fails(capsys, ["accuracy", "--model", str(tiny), "--recipe", "INT8", "--text", str(bad), "--save-outputs", str(d)],
           f"text file must be UTF-8, not bytes b'\\xe9 au' at offset 3 ({str(bad)!r})", d)


def test_bad_output_paths_fail_before_work(tiny, text, tmp_path, capsys):
    _fails(capsys, ["accuracy", "--model", str(tiny), "--recipe", "INT8", "--text", str(text),
                    "--json", str(tmp_path / "no" / "such" / "a.json")],
           f"--json must be in a writable existing directory, not {str(tmp_path / 'no' / 'such' / 'a.json')!r}")
    (tmp_path / "f").write_text("x")
    _fails(capsys, ["accuracy", "--model", str(tiny), "--recipe", "INT8", "--text", str(text),
                    "--save-outputs", str(tmp_path / "f")],
           f"--save-outputs must be a directory, not the file {str(tmp_path / 'f')!r}")
