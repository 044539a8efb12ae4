"""The ``lowbit`` command line: the demo runs, user mistakes give one line and exit code 2."""
from __future__ import annotations

import subprocess
import sys

import pytest

from reports.cli import main


def test_demo_runs_and_is_bit_exact(capsys: pytest.CaptureFixture, tmp_path) -> None:
    assert main(["demo", "-o", str(tmp_path), "--products", "300", "--only", "formats,gemm,units,array"]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if "outputs equal the exact reference" in ln]
    assert len(lines) == 12 and all("[bit-exact]" in ln for ln in lines)
    array_lines = [ln for ln in out.splitlines() if "tile_cycles" in ln and "RTL cycles" in ln]
    assert len(array_lines) == 3 and all("yes" in ln and "[equal]" in ln for ln in array_lines)
    unit_lines = [ln for ln in out.splitlines() if " products, " in ln]
    assert len(unit_lines) == 12 and all("0 mismatches  [pass]" in ln for ln in unit_lines)


def test_formats_table(capsys: pytest.CaptureFixture) -> None:
    assert main(["formats", "e4m3fn", "mxfp4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["name", "kind", "bits"]
    assert out[1].split()[:3] == ["e4m3fn", "float", "8"] and "448" in out[1]


@pytest.mark.parametrize("argv,message", [
    (["formats", "fp7"], "lowbit: error: format name must be a known format (e.g. int8, e4m3fn, e5m2, mxfp4, "
                         "bf16, nf4; see `lowbit formats`), not 'fp7'"),
    (["formats", "int64"], "lowbit: error: bits must be an integer in 1..32, not 64"),
    (["demo", "--only", "nope"], "lowbit: error: --only must name sections among formats, gemm, units, array, "
                                 "cost, simulate, report, not 'nope'"),
])
def test_bad_input_is_one_line_exit_2(argv, message, capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == message + "\n"


def test_console_script_no_traceback(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "reports.cli", "formats", "e9m9"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == "lowbit: error: exp_bits must be an integer in 1..8, not 9\n" and proc.stdout == ""
    proc = subprocess.run([sys.executable, "-m", "reports.cli", "nosuchcommand"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_full_demo_end_to_end(tmp_path, monkeypatch) -> None:
    """The README's main job, every section, as a user runs it (fresh cost cache)."""
    monkeypatch.setenv("LOWBIT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    # the cost table on two formats: the 32-element MX block-dot units take minutes to synthesise cold
    proc = subprocess.run([sys.executable, "-m", "reports.cli", "demo", "-o", str(out), "--products", "200",
                           "--cost-formats", "int8,e4m3fn"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    # progress and a verdict per section: numbered headers, then one "-> shown:" line each
    headers = [ln for ln in text.splitlines() if ln.startswith("== [")]
    assert [h.split("]")[0] for h in headers] == [f"== [{n}/7" for n in range(1, 8)]
    shown = [ln for ln in text.splitlines() if ln.startswith("-> shown: ")]
    assert len(shown) == 7
    assert shown[1].startswith("-> shown: the golden GEMM (exact accumulation, one rounding to fp32) is bit-exact "
                               "against exact rational arithmetic for 12/12 formats")
    assert shown[2].startswith("-> shown: 12/12 RTL units") and shown[3].startswith("-> shown: 3/3 arrays")
    assert "python benchmarks/cost_tables.py" in shown[4]
    assert text.count("[bit-exact]") == 12 and text.count("[pass]") == 12 and text.count("[equal]") == 3
    for recipe in ("INT8", "FP8", "MXFP4"):
        assert any(line.split()[:1] == [recipe] for line in text.splitlines())
    assert "mac_e4m3fn_e4m3fn_exact" in text and "mac_int8_int8_exact" in text
    assert (out / "cost.csv").is_file() and (out / "design_point.csv").is_file()
    assert list((out / "traces").glob("trace_*.json"))
    assert (out / "sweep-report" / "report" / "index.html").is_file()
