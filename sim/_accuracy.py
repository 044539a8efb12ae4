"""Task-level accuracy of recipes on a real checkpoint and real text, against the float64
reference forward of the same checkpoint (``sim._forward``).

Metrics per recipe:

* ``layer_rel_rms``: per layer (embedding output first), ||recipe - reference||_2 / ||reference||_2
  of the hidden states over every token of every line.
* encoders: sentence embeddings are mean-pooled over tokens and L2-normalised (the
  sentence-transformers pooling of all-MiniLM-L6-v2); ``cosine_min`` / ``cosine_mean`` between
  the recipe's and the reference's embedding of each line, and ``spearman``: Spearman rank
  correlation of the pairwise cosine similarities of all line pairs (recipe versus reference).
* decoders: ``top1_agreement`` of the next-token argmax at every position, ``kl_mean`` (nats)
  KL(reference || recipe) of the next-token distributions averaged over positions, and the
  perplexity of the text (each line's tokens 2.. given the preceding ones) under the reference
  (``ppl_reference``) and the recipe (``ppl_recipe``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mapping import Checkpoint, Recipe

from ._forward import ForwardResult, RecipeForward, calibrate, reference_forward
from .errors import SimulationError

__all__ = ["AccuracyResult", "evaluate_accuracy", "sentence_embeddings", "spearman", "tokenize_lines",
           "ENCODER_METRICS", "DECODER_METRICS"]

ENCODER_METRICS = ("cosine_min", "cosine_mean", "spearman")
DECODER_METRICS = ("top1_agreement", "kl_mean", "ppl_reference", "ppl_recipe")
#: lines stacked into one encoder forward (the progress bar advances per batch)
_BATCH = 8


@dataclass
class AccuracyResult:
    """Metrics of every recipe on one checkpoint and text.

    Attributes
    ----------
    model, lines, tokens : checkpoint name, number of lines, tokens over all lines.
    decoder : which metric set applies (``DECODER_METRICS`` or ``ENCODER_METRICS``).
    metrics : DataFrame, one row per recipe (``recipe`` column, then the metrics).
    layer_errors : DataFrame with columns recipe, layer, rel_rms.
    notes : recipe name -> what its run approximates.
    reference, outputs : last hidden states per line (float64, tokens x hidden) of the reference
        and of each recipe (recipe name -> list).
    """

    model: str
    lines: int
    tokens: int
    decoder: bool
    metrics: pd.DataFrame
    layer_errors: pd.DataFrame
    notes: dict[str, list[str]] = field(default_factory=dict)
    reference: list[np.ndarray] = field(default_factory=list, repr=False)
    outputs: dict[str, list[np.ndarray]] = field(default_factory=dict, repr=False)


def tokenize_lines(ckpt: Checkpoint, lines: list[str], *, max_tokens: int) -> list[np.ndarray]:
    """Token ids of each line with the checkpoint's tokenizer (special tokens added, truncated
    to ``max_tokens``)."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise SimulationError(f"max_tokens must be a positive integer, not {max_tokens!r}")
    limit = ckpt.config.max_positions
    tok = ckpt.tokenizer(max_tokens=min(max_tokens, limit))
    out = []
    for i, line in enumerate(lines):
        ids = np.array(tok.encode(line).ids, dtype=np.int64)
        if ids.size == 0:
            raise SimulationError(f"line {i + 1} must give at least one token, not none ({line!r})")
        out.append(ids)
    return out


def sentence_embeddings(last_hidden: list[np.ndarray]) -> np.ndarray:
    """Mean over tokens, then L2 normalisation (lines x hidden)."""
    e = np.stack([h.mean(axis=0) for h in last_hidden])
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties) of two equally long vectors."""
    rx = pd.Series(x).rank().to_numpy()
    ry = pd.Series(y).rank().to_numpy()
    if np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _encoder_metrics(ref: list[np.ndarray], out: list[np.ndarray]) -> dict[str, float]:
    er, eo = sentence_embeddings(ref), sentence_embeddings(out)
    cos = np.sum(er * eo, axis=1)
    iu = np.triu_indices(len(ref), 1)
    rho = spearman((er @ er.T)[iu], (eo @ eo.T)[iu]) if len(ref) > 2 else float("nan")
    return {"cosine_min": float(cos.min()), "cosine_mean": float(cos.mean()), "spearman": rho}


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _decoder_metrics(seqs: list[np.ndarray], ref: list[ForwardResult], out: list[ForwardResult]) -> dict[str, float]:
    agree, kls, nll_r, nll_q = [], [], [], []
    for ids, r, q in zip(seqs, ref, out):
        lr, lq = _log_softmax(r.logits), _log_softmax(q.logits)
        agree.append(np.argmax(r.logits, axis=1) == np.argmax(q.logits, axis=1))
        kls.append(np.sum(np.exp(lr) * (lr - lq), axis=1))
        if len(ids) > 1:
            t = np.arange(len(ids) - 1)
            nll_r.append(-lr[t, ids[1:]])
            nll_q.append(-lq[t, ids[1:]])
    cat = np.concatenate
    if not nll_r:
        ppl_r = ppl_q = float("nan")
    else:
        ppl_r, ppl_q = float(np.exp(cat(nll_r).mean())), float(np.exp(cat(nll_q).mean()))
    return {"top1_agreement": float(cat(agree).mean()), "kl_mean": float(cat(kls).mean()),
            "ppl_reference": ppl_r, "ppl_recipe": ppl_q}


def _layer_errors(ref: list[ForwardResult], out: list[ForwardResult]) -> list[float]:
    errs = []
    for layer in range(len(ref[0].hidden)):
        r = np.concatenate([x.hidden[layer] for x in ref])
        q = np.concatenate([x.hidden[layer] for x in out])
        errs.append(float(np.linalg.norm(q - r) / np.linalg.norm(r)))
    return errs


def _run_batches(fn, seqs: list[np.ndarray], step: int, progress) -> list[ForwardResult]:
    out: list[ForwardResult] = []
    for i in range(0, len(seqs), step):
        part = seqs[i:i + step]
        out += fn(part)
        if progress is not None:
            progress.update(len(part))
    return out


def evaluate_accuracy(ckpt: Checkpoint, recipes: list[Recipe], seqs: list[np.ndarray], *,
                      progress=None) -> AccuracyResult:
    """Run the float64 reference and every recipe on token sequences ``seqs``; the metrics of
    the module docstring.

    Parameters
    ----------
    progress : an object with ``update(n)`` (a tqdm bar over lines x recipes), or None.

    Raises
    ------
    SimulationError
        No sequences or recipes, or a recipe the forward pass cannot run.
    """
    if not seqs:
        raise SimulationError("token sequences must be at least one, not none")
    if not recipes:
        raise SimulationError("recipes must be at least one, not none")
    step = 1 if ckpt.decoder else _BATCH
    ref = _run_batches(lambda part: reference_forward(ckpt, list(part)), seqs, step, None)
    cal = None
    if any(r.kernels for r in recipes):
        cal = calibrate(ckpt, seqs)
    rows, layer_rows, notes, outputs = [], [], {}, {}
    for recipe in recipes:
        fwd = RecipeForward(ckpt, recipe, calibration=cal)
        out = _run_batches(lambda part: fwd.run(list(part)), seqs, step, progress)
        m = _decoder_metrics(seqs, ref, out) if ckpt.decoder else _encoder_metrics(
            [r.last_hidden for r in ref], [o.last_hidden for o in out])
        errs = _layer_errors(ref, out)
        rows.append({"recipe": recipe.name, **m, "final_rel_rms": errs[-1]})
        layer_rows += [{"recipe": recipe.name, "layer": i, "rel_rms": e} for i, e in enumerate(errs)]
        notes[recipe.name] = fwd.notes + ([f"integer-only from the embedding tables to the "
                                           f"{'logits' if ckpt.decoder else 'last hidden state'}"]
                                          if fwd.integer_only else [])
        outputs[recipe.name] = [o.last_hidden for o in out]
    return AccuracyResult(ckpt.name, len(seqs), int(sum(len(s) for s in seqs)), ckpt.decoder,
                          pd.DataFrame(rows), pd.DataFrame(layer_rows), notes,
                          [r.last_hidden for r in ref], outputs)
