"""Accuracy of quantization recipes on a real Hugging Face checkpoint and real text, against its float64 forward.

Example::

    lowbit accuracy --model DIR --recipe INT8 --recipe FP8 --recipe MXFP4 --text examples/texts/sentences.txt

One text per line of ``--text`` (UTF-8). Prints one row per recipe (encoders: sentence-embedding
cosine min/mean and Spearman of pairwise similarities; decoders: next-token top-1 agreement,
mean KL, perplexity under reference and recipe; both: relative RMS error of the last hidden
state) and the per-layer relative RMS errors. ``--json OUT`` writes all of it;
``--save-outputs DIR`` writes ``reference.npz`` and ``<recipe>.npz`` (arrays ``line0``,
``line1``, ...: last hidden states, float64, tokens x hidden). Every input and output path is
checked before any work, and outputs are written atomically at the end.

BLAS runs on one thread during the forward passes (``threadpoolctl``), as in the benchmarks: the
golden GEMMs are small, and on the 2-core machine this was measured on, one thread took half the
wall-clock and 70% of the CPU time of two (``benchmarks/accuracy_forward.py``, INT8 and MXFP4).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["add_arguments", "run", "read_text_lines"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lowbit accuracy``."""
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="Hugging Face model folder (config.json, model.safetensors[.index.json], tokenizer.json)")
    parser.add_argument("--recipe", required=True, action="append", metavar="R",
                        help="recipe shorthand or .toml (repeatable)")
    parser.add_argument("--text", required=True, metavar="FILE", help="UTF-8 text file, one text per line")
    parser.add_argument("--max-tokens", type=int, default=128, metavar="N",
                        help="truncate each line to N tokens, special tokens included (default 128)")
    parser.add_argument("--json", default=None, metavar="OUT", help="write metrics and per-layer errors as JSON")
    parser.add_argument("--markdown", default=None, metavar="OUT",
                        help="write the tables as Markdown (with the command that made them)")
    parser.add_argument("--save-outputs", default=None, metavar="DIR",
                        help="write reference.npz and <recipe>.npz (last hidden state per line)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def read_text_lines(path: str | Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file.

    Raises
    ------
    OSError
        Unreadable file. ValueError: not UTF-8, or no non-empty line.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"text file must be UTF-8, not bytes {data[exc.start:exc.start + 4]!r} at offset "
                         f"{exc.start} ({str(path)!r})") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"text file must hold at least one non-empty line, not be empty ({str(path)!r})")
    return lines


def _check_output_file(path: str, option: str) -> Path:
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{option} must be a file path, not the directory {path!r}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ValueError(f"{option} must be in a writable existing directory, not {path!r}")
    return p


def _check_output_dir(path: str) -> Path:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"--save-outputs must be a directory, not the file {path!r}")
    parent = p if p.exists() else p.parent if str(p.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ValueError(f"--save-outputs must be a writable directory or one that can be created, not {path!r}")
    return p


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _nan_to_null(x):
    """JSON has no NaN: undefined metrics (Spearman of fewer than 3 lines) become null."""
    if isinstance(x, dict):
        return {k: _nan_to_null(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_nan_to_null(v) for v in x]
    if isinstance(x, float) and x != x:
        return None
    return x


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically (temporary file in the same directory, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _markdown_table(df) -> str:
    cols = list(df.columns)
    fmt = lambda v: f"{v:.6g}" if isinstance(v, float) else str(v)  # noqa: E731
    rows = ["| " + " | ".join(str(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    rows += ["| " + " | ".join(fmt(v) for v in rec) + " |" for rec in df.itertuples(index=False)]
    return "\n".join(rows)


def _markdown(result, ckpt, args, names: list[str], command: str) -> str:
    layers = result.layer_errors.pivot(index="layer", columns="recipe", values="rel_rms")[names].reset_index()
    kind = "decoder (next-token metrics)" if result.decoder else "encoder (mean-pooled, L2-normalised sentence embeddings)"
    notes = [f"- {name}: {note}" for name, ns in result.notes.items() for note in ns]
    return "\n".join([
        f"<!-- generated by: {command} -->",
        f"Model `{ckpt.name}` ({ckpt.model_type}, {kind}); text `{args.text}`: {result.lines} lines, "
        f"{result.tokens} tokens (at most {args.max_tokens} per line). Reference: the float64 forward of the "
        "same checkpoint.", "",
        _markdown_table(result.metrics), "",
        "Relative RMS error of the hidden state after each layer (layer 0: embedding output):", "",
        _markdown_table(layers), "",
        *(["Notes:", "", *notes, ""] if notes else []),
    ])


def _write_outputs(path: Path, arrays: dict[str, list[np.ndarray]]) -> None:
    base = path if path.exists() else path.parent if str(path.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(dir=base, prefix=".lowbit-accuracy."))
    try:
        for stem, lines in arrays.items():
            np.savez(tmp / f"{stem}.npz", **{f"line{i}": np.asarray(x, dtype=np.float64) for i, x in enumerate(lines)})
        if not path.exists():
            os.chmod(tmp, 0o777 & ~_umask())
            os.replace(tmp, path)
            return
        for f in tmp.iterdir():
            os.replace(f, path / f.name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    """Run ``lowbit accuracy``; returns the exit code."""
    from mapping import load_checkpoint, parse_recipe
    from sim import evaluate_accuracy, tokenize_lines

    # ---- validate everything before any work ------------------------------------------
    if args.max_tokens < 1:
        raise ValueError(f"--max-tokens must be a positive integer, not {args.max_tokens!r}")
    recipes = [parse_recipe(r) for r in args.recipe]
    names = [r.name for r in recipes]
    if len(set(names)) != len(names):
        raise ValueError(f"--recipe names must be distinct, not {names!r}")
    stems = [_file_stem(n) for n in names]
    if "reference" in stems or len(set(stems)) != len(stems):
        raise ValueError(f"--recipe names must give distinct output files other than reference.npz, not {names!r}")
    json_path = _check_output_file(args.json, "--json") if args.json else None
    md_path = _check_output_file(args.markdown, "--markdown") if args.markdown else None
    out_dir = _check_output_dir(args.save_outputs) if args.save_outputs else None
    lines = read_text_lines(args.text)
    ckpt = load_checkpoint(args.model)
    seqs = tokenize_lines(ckpt, lines, max_tokens=args.max_tokens)

    # ---- work ---------------------------------------------------------------------------
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    with tqdm(total=len(seqs) * len(recipes), desc="lines x recipes", unit="line", file=sys.stderr,
              disable=args.no_progress) as bar, threadpool_limits(limits=1, user_api="blas"):
        result = evaluate_accuracy(ckpt, recipes, seqs, progress=bar)

    # ---- report -------------------------------------------------------------------------
    import pandas as pd

    kind = "decoder: next-token metrics" if result.decoder else "encoder: mean-pooled L2-normalised sentence embeddings"
    print(f"model {ckpt.name} ({ckpt.model_type}, {kind}); text {args.text}: {result.lines} lines, "
          f"{result.tokens} tokens; reference: float64 forward of the same checkpoint")
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.float_format", "{:.6g}".format):
        print(result.metrics.to_string(index=False))
        print("\nrelative RMS error of the hidden state per layer (0 = embedding output):")
        print(result.layer_errors.pivot(index="layer", columns="recipe", values="rel_rms")[names].to_string())
    for name, notes in result.notes.items():
        for note in notes:
            print(f"note [{name}]: {note}")
    if json_path is not None:
        doc = {"model": str(ckpt.path), "model_type": ckpt.model_type, "text": str(args.text),
               "lines": result.lines, "tokens": result.tokens, "max_tokens": args.max_tokens,
               "metric_kind": "decoder" if result.decoder else "encoder", "reference": "float64 forward",
               "recipes": {row["recipe"]: {**{k: v for k, v in row.items() if k != "recipe"},
                                           "layer_rel_rms": result.layer_errors.loc[
                                               result.layer_errors.recipe == row["recipe"], "rel_rms"].tolist(),
                                           "notes": result.notes[row["recipe"]]}
                           for row in result.metrics.to_dict(orient="records")}}
        _write_text(json_path, json.dumps(_nan_to_null(doc), indent=2, allow_nan=False))
    if md_path is not None:
        command = (f"lowbit accuracy --model {args.model} " + " ".join(f"--recipe {r}" for r in args.recipe)
                   + f" --text {args.text} --max-tokens {args.max_tokens} --markdown {args.markdown}")
        _write_text(md_path, _markdown(result, ckpt, args, names, command))
    if out_dir is not None:
        arrays = {"reference": result.reference}
        arrays.update({_file_stem(n): result.outputs[n] for n in names})
        _write_outputs(out_dir, arrays)
    return 0
