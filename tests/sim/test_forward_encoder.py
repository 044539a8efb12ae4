"""Tiny BERT and RoBERTa checkpoints written in Hugging Face layout (``bert.`` / ``roberta.``
prefixes, a pooler, RoBERTa's position offset): the float64 forward against transformers'
BertModel / RobertaModel, pooler output included, and recipes running with the pooler."""
from __future__ import annotations

import numpy as np
import pytest

from mapping import load_checkpoint, parse_recipe
from sim import RecipeForward, reference_forward
from tests.mapping.test_checkpoint import write_checkpoint

IDS = np.array([0, 5, 7, 3, 2, 9, 11, 4, 6, 2])


@pytest.fixture(scope="module", params=["bert", "roberta"])
def tiny(request, tmp_path_factory):
    return load_checkpoint(write_checkpoint(tmp_path_factory.mktemp(request.param) / request.param, request.param))


def test_reference_matches_transformers(tiny):
    import torch
    import transformers

    model = transformers.AutoModel.from_pretrained(str(tiny.path), dtype=torch.float64)
    model.eval()
    with torch.no_grad():
        out = model(torch.tensor(IDS[None]))
    ours = reference_forward(tiny, IDS)
    theirs = out.last_hidden_state[0].numpy()
    assert np.max(np.abs(ours.last_hidden - theirs)) < 1e-10 * np.max(np.abs(theirs))
    assert np.max(np.abs(ours.pooled - out.pooler_output[0].numpy())) < 1e-12
    assert tiny.position_offset == (2 if tiny.model_type == "roberta" else 0)


def test_recipes_compute_the_pooler(tiny):
    ref = reference_forward(tiny, IDS)
    got = RecipeForward(tiny, parse_recipe("FP16")).run(IDS)
    assert got.pooled.shape == ref.pooled.shape and np.max(np.abs(got.pooled - ref.pooled)) < 1e-2
