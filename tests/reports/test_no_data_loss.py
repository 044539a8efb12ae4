"""``lowbit report`` and ``lowbit sweep`` never delete or overwrite what they did not write: a
foreign non-empty folder, the results folder itself and a busy sweep folder are refused with one
line and exit code 2, and the disk is byte-for-byte as before; ``report`` refuses a folder whose
tables are not the ones its manifest lists (two sweeps mixed in one folder)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reports.cli import main
from reports.sweep import run_sweep, spec_from_dict

SPEC = {"name": "safety", "metrics": ["latency"], "layers": 1,
        "axes": {"recipe": ["INT8", "FP8"], "seq_len": 16, "array": "8x8"}}
SPEC_TOML = """name = "safety"
metrics = ["latency"]
layers = 1
[axes]
recipe = ["INT8", "FP8"]
seq_len = 16
array = "8x8"
"""


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) under ``root``, hidden ones included."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("sweep")
    run_sweep(spec_from_dict(SPEC), base / "res", workers=1, cache=base / "cache", progress=False)
    return base / "res"


@pytest.fixture()
def res(results, tmp_path) -> Path:
    """A private copy of the sweep folder in this test's tmp_path."""
    return Path(shutil.copytree(results, tmp_path / "res"))


def _refused(capsys, tmp_path: Path, argv: list[str], message: str) -> None:
    before = snapshot(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"lowbit: error: {message}\n"
    assert snapshot(tmp_path) == before


def test_report_refuses_a_foreign_folder(res, tmp_path, capsys) -> None:
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "notes.txt").write_text("x\n")
    _refused(capsys, tmp_path, ["report", str(res), "-o", str(d)],
             f"report folder must be new, empty or an earlier lowbit report, not {str(d)!r} "
             f"(it holds notes.txt, sub; choose another -o)")


def test_report_refuses_the_results_folder(res, tmp_path, capsys) -> None:
    _refused(capsys, tmp_path, ["report", str(res), "-o", str(res)],
             f"report folder must not be the results folder, not {str(res)!r} "
             f"(the report would replace the sweep's files)")


def test_report_into_dot(res, tmp_path, capsys, monkeypatch) -> None:
    # a non-empty current folder is refused cleanly ...
    monkeypatch.chdir(tmp_path)
    _refused(capsys, tmp_path, ["report", str(res), "-o", "."],
             "report folder must be new, empty or an earlier lowbit report, not '.' (it holds res; choose another -o)")
    # ... an empty one is written
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    assert main(["report", str(res), "-o", "."]) == 0
    assert (empty / "index.html").is_file() and (empty / "plots" / "bars_latency_s.png").is_file()
    assert not [p for p in empty.iterdir() if p.name.endswith(".tmp")]


def test_report_rewrites_only_its_own_files(res, tmp_path, capsys) -> None:
    out = tmp_path / "rep"
    assert main(["report", str(res), "-o", str(out)]) == 0
    marker = json.loads((out / ".lowbit-report.json").read_text())
    assert "index.html" in marker["files"] and "plots/bars_latency_s.png" in marker["files"]
    # a plot of ours that the new report does not make again is removed; a user's file stays
    (out / "plots" / "bars_old.png").write_bytes(b"old")
    marker["files"].append("plots/bars_old.png")
    (out / ".lowbit-report.json").write_text(json.dumps(marker))
    (out / "plots" / "my_notes.txt").write_text("mine\n")
    assert main(["report", str(res), "-o", str(out)]) == 0
    assert not (out / "plots" / "bars_old.png").exists()
    assert (out / "plots" / "my_notes.txt").read_text() == "mine\n"
    # and the sweep folder is untouched by reporting
    assert sorted(p.name for p in res.iterdir()) == [".lowbit-sweep.lock", "results.csv", "results.parquet",
                                                      "sweep.json"]


def test_report_refuses_mixed_sweeps(res, tmp_path, capsys) -> None:
    other = tmp_path / "other"
    run_sweep(spec_from_dict({**SPEC, "axes": {**SPEC["axes"], "recipe": "FP16"}}), other, workers=1,
              cache=tmp_path / "cache", progress=False)
    shutil.copy(other / "results.csv", res / "results.csv")  # as two sweeps racing into one folder leave it
    _refused(capsys, tmp_path, ["report", str(res), "-o", str(tmp_path / "rep")],
             f"results folder must hold the files of one sweep, not {str(res)!r} "
             f"(results.csv is not the one its sweep.json lists)")


def test_second_sweep_into_a_busy_folder_fails_at_once(res, tmp_path, capsys) -> None:
    from filelock import FileLock

    spec = tmp_path / "s.toml"
    spec.write_text(SPEC_TOML)
    with FileLock(str(res / ".lowbit-sweep.lock"), timeout=0):  # the first sweep, still running
        _refused(capsys, tmp_path, ["sweep", str(spec), "-o", str(res), "--workers", "1",
                                    "--cache", str(tmp_path / "cache"), "--no-progress"],
                 f"output folder must not be in use by another lowbit sweep, not {str(res)!r} "
                 f"(its .lowbit-sweep.lock is locked)")


def test_sweep_never_overwrites_foreign_tables(tmp_path, capsys) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC_TOML)
    d = tmp_path / "d"
    d.mkdir()
    (d / "results.csv").write_text("my,own\n1,2\n")
    _refused(capsys, tmp_path, ["sweep", str(spec), "-o", str(d), "--workers", "1", "--cache",
                                str(tmp_path / "cache"), "--no-progress"],
             f"output folder must be new, empty or an earlier sweep's, not {str(d)!r} "
             f"(its results.csv was not written by lowbit sweep)")


def test_sweep_where_every_point_fails_exits_1(tmp_path, capsys) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC_TOML.replace('array = "8x8"', 'array = "8x8"\nsram_kib = 4'))
    assert main(["sweep", str(spec), "-o", str(tmp_path / "out"), "--workers", "1", "--cache",
                 str(tmp_path / "cache"), "--no-progress"]) == 1
    out = capsys.readouterr()
    assert "2 points, 2 computed, 0 cached, 2 failed" in out.out
    assert out.err.startswith("lowbit: error: every point of the sweep failed; the first: latency/energy: "
                              "MappingError: SRAM buffer") and out.err.count("\n") == 1
    assert (tmp_path / "out" / "sweep.json").is_file()  # the errors are kept as results


def test_two_sweep_processes_into_one_folder(tmp_path, capsys) -> None:
    """A real race: a second ``lowbit sweep`` started while the first is computing into the same
    folder fails at once with one line; the first finishes and its folder is one sweep."""
    import os
    import subprocess
    import sys
    import time

    spec = tmp_path / "s.toml"
    spec.write_text(SPEC_TOML.replace('recipe = ["INT8", "FP8"]', 'recipe = ["INT8", "FP8", "FP16"]')
                    .replace('metrics = ["latency"]', 'metrics = ["latency", "accuracy"]'))
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = subprocess.Popen([sys.executable, "-m", "reports.cli", "sweep", str(spec), "-o", str(out), "--cache",
                              str(cache), "--workers", "1", "--no-progress"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and first.poll() is None:
        if (cache / "points").is_dir() and any((cache / "points").rglob("*.json")):
            break  # the first sweep is computing (one of its six evaluations arrived): it holds the lock
        time.sleep(0.05)
    assert first.poll() is None, "the first sweep ended before the second could start"
    assert main(["sweep", str(spec), "-o", str(out), "--cache", str(tmp_path / "cache2"), "--workers", "1",
                 "--no-progress"]) == 2
    assert capsys.readouterr().err == (f"lowbit: error: output folder must not be in use by another lowbit sweep, "
                                       f"not {str(out)!r} (its .lowbit-sweep.lock is locked)\n")
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert main(["report", str(out), "-o", str(tmp_path / "rep")]) == 0  # one sweep's files
