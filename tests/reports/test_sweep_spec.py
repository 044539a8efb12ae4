"""Sweep specs: parsed once into frozen points; every bad field is one line naming it, exit 2;
bad output folders and unreachable schedulers fail before anything is written."""
from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mapping import RECIPE_NAMES
from reports.cli import main
from reports.errors import SpecError
from reports.sweep import AXES, DesignPoint, load_spec, spec_from_dict
from sim import PRESETS

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "sweep_small.toml"


def test_small_example_is_the_cross_product() -> None:
    spec = load_spec(SMALL)
    assert len(spec.points) == 4 * 2
    assert {(p.recipe, p.array) for p in spec.points} == {(r, a) for r in ("INT8", "FP8", "MXFP4", "FP16")
                                                          for a in ("16x16", "32x32")}
    p = spec.points[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.recipe = "FP8"  # type: ignore[misc]
    hw = spec.points[1].hardware_config()
    base = PRESETS["default-32x32"]
    assert (hw.array_rows, hw.array_cols) == (32, 32) and hw.sram_b_kib == base.sram_b_kib
    assert spec.points[0].hardware_config().array_rows == 16


def test_overrides_resolve_against_the_base_hardware() -> None:
    spec = spec_from_dict({"axes": {"sram_kib": 448, "dram_gbps": 32.0, "dataflow": "os", "hardware": "default-32x32"}})
    base = PRESETS["default-32x32"]
    hw = spec.points[0].hardware_config()
    parts = (base.sram_a_kib, base.sram_b_kib, base.sram_c_kib, base.sram_v_kib)
    assert (hw.sram_a_kib, hw.sram_b_kib, hw.sram_c_kib, hw.sram_v_kib) == tuple(448 * p // sum(parts) for p in parts)
    assert hw.dram_channels * hw.dram_gbps_per_channel == pytest.approx(32.0)
    assert hw.dataflows == ("os",)


def test_explicit_point_list_and_accumulate_override() -> None:
    spec = spec_from_dict({"axes": {"model": "bert-base", "seq_len": 64},
                           "point": [{"recipe": "FP8", "array": "8x8"}, {"recipe": "INT8", "accumulate": "fp32"}]})
    assert [(p.recipe, p.array, p.seq_len) for p in spec.points] == [("FP8", "8x8", 64), ("INT8", None, 64)]
    assert spec.points[1].recipe_obj().accumulate == "fp32" and spec.points[0].recipe_obj().accumulate == "exact"
    # the descriptor is content: the same recipe named two ways is the same point
    a = spec_from_dict({"axes": {"recipe": "W8A8"}}).points[0].descriptor()
    b = spec_from_dict({"axes": {"recipe": "INT8"}}).points[0].descriptor()
    assert a == b


AXIS_LIST = ", ".join(AXES)


@pytest.mark.parametrize("doc,message", [
    ({"axes": {"colour": ["red"]}}, f"spec: axes key must be one of {AXIS_LIST}, not 'colour'"),
    ({"axes": {"recipe": ["INT8", "FP7"]}},
     f"spec: axes.recipe[1] must be a recipe shorthand ({', '.join(RECIPE_NAMES)}) or a .toml path, not 'FP7'"),
    ({"axes": {"array": ["32"]}}, "spec: axes.array[0] must be an array size ROWSxCOLS such as '32x32', not '32'"),
    ({"axes": {"seq_len": 0}}, "spec: axes.seq_len must be a positive integer, not 0"),
    ({"metrics": ["latency", "beauty"]},
     "spec: metrics[1] must be one of latency, energy, area, accuracy, not 'beauty'"),
    ({"sweep": 1}, "spec: top-level key must be one of name, description, metrics, layers, axes, accuracy, units, "
                   "point, not 'sweep'"),
    ({"axes": {"dataflow": "diagonal"}}, "spec: axes.dataflow must be one of ws, os, ws+os, not 'diagonal'"),
    ({"axes": {"recipe": ["INT8", "FP8"]}, "point": [{"array": "8x8"}]},
     "spec: point[0].recipe must be given (axes.recipe has several values), not None"),
    # the document's shape, checked by the pydantic model and reworded into the same one line
    ({"metrics": []}, "spec: metrics must be a non-empty list among latency, energy, area, accuracy, not []"),
    ({"name": ""}, "spec: name must be a non-empty string, not ''"),
    ({"layers": True}, "spec: layers must be a positive integer, not True"),
    ({"accuracy": 5}, "spec: [accuracy] must be a table, not 5"),
    ({"accuracy": {"tokens": 0}}, "spec: accuracy.tokens must be a positive integer, not 0"),
    ({"accuracy": {"tokens": "16"}}, "spec: accuracy.tokens must be a positive integer, not '16'"),
    ({"accuracy": {"shots": 1}}, "spec: accuracy key must be one of tokens, seed, checkpoint, text, max_tokens, "
                                 "metric, not 'shots'"),
    ({"units": {"energy": "yes"}}, "spec: units.energy must be true or false, not 'yes'"),
    ({"units": {"fpga": ["xc7"]}}, "spec: units.fpga[0] must be one of ecp5, ecp5-nodsp, ice40, not 'xc7'"),
    ({"point": []}, "spec: [[point]] must be a non-empty array of tables, not []"),
    ({"axes": {"sram_kib": [0]}}, "spec: axes.sram_kib[0] must be an integer of at least 4, not 0"),
])
def test_bad_spec_names_the_field(doc, message) -> None:
    with pytest.raises(SpecError) as exc:
        spec_from_dict(doc)
    assert str(exc.value) == message


def _run_cli(argv, capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def test_cli_bad_spec_is_one_line_exit_2(tmp_path, capsys) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text('[axes]\nrecipe = ["INT8"]\nfrobnicate = [1]\n')
    code, err = _run_cli(["sweep", str(spec), "-o", str(tmp_path / "out"), "--no-progress"], capsys)
    assert code == 2
    assert err == f"lowbit: error: bad.toml: axes key must be one of {AXIS_LIST}, not 'frobnicate'\n"
    assert not (tmp_path / "out").exists()


def test_cli_output_folder_that_is_a_file(tmp_path, capsys) -> None:
    target = tmp_path / "results"
    target.write_text("not a folder")
    code, err = _run_cli(["sweep", str(SMALL), "-o", str(target), "--no-progress"], capsys)
    assert code == 2
    assert err == f"lowbit: error: output folder must be a folder, not the file {str(target)!r}\n"
    assert target.read_text() == "not a folder"
    code, err = _run_cli(["report", str(tmp_path), "-o", str(target)], capsys)
    assert code == 2 and err == f"lowbit: error: report folder must be a folder, not the file {str(target)!r}\n"


def test_report_refuses_an_unfinished_sweep(tmp_path, capsys) -> None:
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "results.csv").write_text("point\n0\n")
    code, err = _run_cli(["report", str(tmp_path / "res"), "-o", str(tmp_path / "rep")], capsys)
    assert code == 2
    assert err == (f"lowbit: error: results folder must hold a finished sweep (sweep.json), "
                   f"not {str(tmp_path / 'res')!r} without it\n")
    assert not (tmp_path / "rep").exists()


def test_unreachable_scheduler_is_one_line_exit_2(tmp_path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"tcp://127.0.0.1:{port}"
    proc = subprocess.run([sys.executable, "-m", "reports.cli", "sweep", str(SMALL), "-o", str(tmp_path / "out"),
                           "--scheduler", addr, "--cache", str(tmp_path / "cache"), "--no-progress"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == (f"lowbit: error: scheduler must be a reachable Dask scheduler address, not {addr!r} "
                           f"(no connection within 5 s)\n")
    assert not (tmp_path / "out").exists()


def test_points_are_frozen_dataclasses() -> None:
    assert dataclasses.is_dataclass(DesignPoint) and DesignPoint.__dataclass_params__.frozen


def test_format_axis_builds_uniform_recipes() -> None:
    from hw.formats import parse

    spec = spec_from_dict({"axes": {"format": ["int8", "mxfp4"], "array": "8x8"}})
    r_int, r_mx = (p.recipe_obj() for p in spec.points)
    assert (r_int.weights.format, r_int.weights.granularity) == (parse("int8"), "channel")
    assert (r_int.activations.format, r_int.activations.granularity) == (parse("int8"), "token")
    assert r_mx.weights.format == parse("mxfp4") and r_mx.weights.granularity == "block"
    assert [p.recipe for p in spec.points] == ["int8", "mxfp4"]
    with pytest.raises(SpecError) as exc:
        spec_from_dict({"axes": {"format": "int8", "recipe": "FP8"}})
    assert str(exc.value) == "spec: axes.format must be left out when axes.recipe is given (one or the other), not ['int8']"
