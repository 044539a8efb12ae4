"""``lowbit accuracy`` runs its forward passes with BLAS limited to one thread, and gives it back."""
from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import sim
from reports.cli import main
from tests.mapping.test_checkpoint import write_checkpoint


def _blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_forward_runs_on_one_blas_thread(tmp_path, monkeypatch, capsys):
    if not _blas_threads():
        pytest.fail("numpy's BLAS is not visible to threadpoolctl")
    model = write_checkpoint(tmp_path / "gpt2", "gpt2")
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat\nshe was in the house\n", encoding="utf-8")
    seen = []
    real = sim.evaluate_accuracy

    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(sim, "evaluate_accuracy", spy)
    with threadpool_limits(limits=2, user_api="blas"):
        assert main(["accuracy", "--model", str(model), "--recipe", "INT8", "--text", str(text),
                     "--no-progress"]) == 0
        after = _blas_threads()
    assert seen and all(n == 1 for n in seen[0])
    assert after == [2] * len(after)  # the limit is lifted when the command is done
    assert "INT8" in capsys.readouterr().out
