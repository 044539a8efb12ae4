"""``lowbit verilog``: its help names every unit (arrays included), absurd sizes are refused with
one line before any work, and an export writes its files (mode 0644) and lists them. The
exported files themselves are checked in tests/hw/test_units_cocotb.py and test_arrays_verilator.py."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hw.units import UNIT_KINDS
from hw.units.nonlinear import UNITS as NONLINEAR_UNITS
from reports.cli import main


def _help(command: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "reports.cli", command, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_verilog_help_lists_every_unit() -> None:
    text = " ".join(_help("verilog").split())
    listed = text.split("UNIT what to generate: ", 1)[1].split(" options:", 1)[0]
    assert [u.strip() for u in listed.split(",")] == [*UNIT_KINDS, *sorted(NONLINEAR_UNITS), "array"]


@pytest.mark.parametrize("command", ["verilog", "cost", "nonlinear"])
def test_help_description_is_a_whole_sentence(command: str) -> None:
    lines = _help(command).splitlines()
    start = next(i for i, ln in enumerate(lines) if not ln.strip() and i > 0) + 1  # after the usage block
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    description = " ".join(" ".join(lines[start:end]).split())
    assert description.endswith("."), description


@pytest.mark.parametrize("argv,message", [
    (["verilog", "mac", "--a", "int8", "--b", "int8", "--max-k", str(10 ** 21)],
     f"lowbit: error: --max-k must be an integer from 1 to 1048576, not {10 ** 21}"),
    (["verilog", "array", "--a", "int8", "--rows", "2", "--cols", "2", "--max-m", "0"],
     "lowbit: error: --max-m must be an integer from 1 to 1048576, not 0"),
    (["verilog", "dot", "--a", "int8", "--b", "int8", "--vectors", "0"],
     "lowbit: error: --vectors must be a positive integer, not 0"),
])
def test_absurd_sizes_are_one_line_exit_2(argv, message, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert main([*argv, "-o", str(out)]) == 2
    assert capsys.readouterr().err == message + "\n"
    assert not out.exists()


def test_export_writes_and_lists_its_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["verilog", "mac", "--a", "int4", "--b", "int4", "--out-format", "int16", "--max-k", "16",
                 "--vectors", "5", "-o", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    name = "mac_int4_int4_exact_int16_l1_k16"
    meta = json.loads((tmp_path / f"{name}.json").read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(meta["files"].values())
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in tmp_path.iterdir())
    assert lines[0] == f"{tmp_path / name}.v  ({name}: latency 1 cycles, initiation interval 1)"
    assert lines[-1] == f"run the bench: cd {tmp_path} && python {name}_tb.py"
    assert len(json.loads((tmp_path / f"{name}_vectors.json").read_text())["expect"]) == 5


def test_list_parameter_of_a_nonlinear_unit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["verilog", "ivit_int_layernorm", "--param", "x_bits=8", "--param", "length=4",
                 "--param", "bias_int=3,-2,0,1", "--vectors", "3", "-o", str(tmp_path)]) == 0
    meta_file = capsys.readouterr().out.splitlines()[1]
    assert json.loads(Path(meta_file).read_text())["parameters"]["params"]["bias_int"] == [3, -2, 0, 1]
    assert main(["verilog", "ivit_int_layernorm", "--param", "bias_int=3,x", "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("lowbit: error: --param must be KEY=INTEGER or KEY=INTEGER,INTEGER,..., "
                                       "not 'bias_int=3,x'\n")
