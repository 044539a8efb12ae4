"""Bad input files and unbounded requests are one line on stderr and exit code 2, before any work
and with nothing written: damaged or NaN weights, non-UTF-8 configs and specs, an accuracy table
too large for memory, ``--weights`` without ``--numerics``, unwritable output paths. A run that
fails after the simulation leaves none of its output files (nor a temporary file); a reader that
closes the pipe early ends the command quietly."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from reports.cli import main

SIM = ["simulate", "--model", "bert-base", "--recipe", "INT8", "--hw", "edge-16x16", "--layers", "1",
       "--prefill", "16", "--no-progress", "--no-energy"]


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}


def _refused(capsys, root: Path, argv: list[str], message: str) -> None:
    before = snapshot(root)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == f"lowbit: error: {message}\n"
    assert captured.out == ""
    assert snapshot(root) == before


@pytest.fixture()
def weights_files(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    np.savez("good.npz", q_proj=np.ones((4, 4), dtype=np.float32))
    data = Path("good.npz").read_bytes()
    Path("trunc.npz").write_bytes(data[:100])
    Path("empty.npz").write_bytes(b"")
    with zipfile.ZipFile("good.npz") as z:  # flip one byte inside the stored array data
        info = z.infolist()[0]
    offset = info.header_offset + 30 + len(info.filename) + 100
    flipped = bytearray(data)
    flipped[offset] ^= 0xFF
    Path("flip.npz").write_bytes(bytes(flipped))
    np.savez("nan.npz", q_proj=np.array([[1.0, np.nan], [0.0, np.inf]]))
    return tmp_path


@pytest.mark.parametrize("name, reason", [
    ("trunc.npz", "--weights must be a valid .npz file, not 'trunc.npz' (damaged or truncated: File is not a zip file)"),
    ("empty.npz", "--weights must be a valid .npz file, not 'empty.npz' (damaged or truncated: No data left in file)"),
    ("flip.npz", "--weights must be a valid .npz file, not 'flip.npz' (damaged or truncated: Bad CRC-32 for file "
                 "'q_proj.npy')"),
    ("nan.npz", "--weights array 'q_proj' must hold finite values, not 2 NaN or infinite of 4 ('nan.npz')"),
])
def test_damaged_or_nan_weights(weights_files, capsys, name, reason) -> None:
    _refused(capsys, weights_files, [*SIM, "--numerics", "--tokens", "2", "--weights", name, "--csv", "ops.csv"],
             reason)


def test_weights_without_numerics(weights_files, capsys) -> None:
    _refused(capsys, weights_files, [*SIM, "--weights", "good.npz"],
             "--weights must be given with --numerics (weights are used only by the numerics-mode layer), "
             "not alone: 'good.npz'")


@pytest.mark.parametrize("option, name, what", [
    ("--model", "config.json", "--model config"), ("--recipe", "recipe.toml", "--recipe file"),
    ("--hw", "hw.toml", "--hw file"),
])
def test_non_utf8_files_are_named(tmp_path, monkeypatch, capsys, option, name, what) -> None:
    monkeypatch.chdir(tmp_path)
    Path(name).write_bytes(b'name = "caf\xe9"\n')  # Latin-1, not UTF-8
    argv = ["simulate", "--model", "bert-base", "--recipe", "INT8", "--no-energy"]
    if option not in argv:
        argv += [option, ""]
    argv[argv.index(option) + 1] = name
    _refused(capsys, tmp_path, argv, f"{what} must be a UTF-8 text file, not {name!r} (byte 0xe9 at offset 11 "
                                     f"is not UTF-8)")


def test_non_utf8_sweep_spec(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s.toml").write_bytes(b'name = "caf\xe9"\n')
    _refused(capsys, tmp_path, ["sweep", "s.toml", "-o", "out"],
             "sweep spec must be a UTF-8 text file, not 's.toml' (byte 0xe9 at offset 11 is not UTF-8)")


def test_sweep_sram_kib_zero_names_the_rule(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s.toml").write_text("[axes]\nsram_kib = [0]\n")
    _refused(capsys, tmp_path, ["sweep", "s.toml", "-o", "out"],
             "s.toml: axes.sram_kib[0] must be an integer of at least 4, not 0")


def test_nonlinear_rows_beyond_memory(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    _refused(capsys, tmp_path, ["nonlinear", "--accuracy", "--rows", "100000000", "--csv", "a.csv"],
             "--rows x --length must be at most 4194304 values per point (about 1.4 GB of working memory at 330 "
             "bytes per value), not 6400000000 (100000000 x 64: about 2.11e+03 GB)")


@pytest.mark.parametrize("option, path, message", [
    ("--trace", "missing/t.json", "--trace must be in an existing folder, not 'missing/t.json' ('missing' does not "
                                  "exist)"),
    ("--csv", ".", "--csv must be a file path, not the folder '.'"),
    ("--json", "ops.csv", "--json must be another file than --csv, not the same 'ops.csv'"),
])
def test_output_paths_checked_before_the_run(tmp_path, monkeypatch, capsys, option, path, message) -> None:
    monkeypatch.chdir(tmp_path)
    _refused(capsys, tmp_path, [*SIM, "--csv", "ops.csv", option, path], message)


def test_failure_after_the_run_writes_nothing(tmp_path, monkeypatch, capsys) -> None:
    """Numerics mode fails after the simulation (more tokens than bert-base's 512 positions): no
    trace, CSV or JSON, and no temporary file, is left behind."""
    monkeypatch.chdir(tmp_path)
    assert main([*SIM, "--trace", "t.json", "--csv", "ops.csv", "--json", "s.json", "--numerics",
                 "--tokens", "100000"]) == 2
    assert capsys.readouterr().err == "lowbit: error: tokens must be an integer in 1..512, not 100000\n"
    assert list(tmp_path.iterdir()) == []


def test_outputs_written_at_the_end(tmp_path, monkeypatch, capsys) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    assert main([*SIM, "--trace", "t.json", "--csv", "ops.csv", "--json", "s.json"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ops.csv", "s.json", "t.json"]
    doc = json.loads(Path("s.json").read_text())
    assert doc["summary"]["model"] == "bert-base" and doc["mac_unit"] == "MAC energy left out (--no-energy)"
    assert json.loads(Path("t.json").read_text())["traceEvents"]


def test_broken_pipe_is_quiet(tmp_path) -> None:
    """``lowbit formats ... | head -1``: the reader leaves after one line, the output is far larger
    than the pipe's buffer; no "Broken pipe" message, exit code 141 (128 + SIGPIPE)."""
    proc = subprocess.Popen([sys.executable, "-m", "reports.cli", "formats", *["int8"] * 3000],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    proc.wait(timeout=120)
    assert first.split()[:2] == [b"name", b"kind"]
    assert err == b"" and proc.returncode == 141
