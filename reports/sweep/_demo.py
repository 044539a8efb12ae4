"""The small sweep ``lowbit demo`` ends with: its default design points (the headline recipes
INT8, FP8, MXFP4 and FP16 on the default 32x32 accelerator, one BERT-base layer of 128 tokens),
swept, cached and written up as an HTML report."""
from __future__ import annotations

from pathlib import Path

from ._report import check_report_dir, write_report
from ._run import check_output_dir, check_sweep_output_dir, run_sweep
from ._spec import SweepSpec, spec_from_dict

__all__ = ["DEMO_SPEC", "demo_spec", "run_demo_report"]

#: the demo sweep as a spec document (the same points as ``examples/sweep_small.toml`` at 32x32)
DEMO_SPEC = {
    "name": "demo",
    "description": "lowbit demo: headline recipes on the default 32x32 accelerator, one BERT-base layer of 128 tokens",
    "metrics": ["latency", "energy", "accuracy"],
    "layers": 1,
    "axes": {"model": "bert-base", "seq_len": 128, "recipe": ["INT8", "FP8", "MXFP4", "FP16"], "array": "32x32",
             "hardware": "default-32x32"},
    "accuracy": {"tokens": 16, "seed": 0},
}


def demo_spec() -> SweepSpec:
    """The parsed demo sweep."""
    return spec_from_dict(DEMO_SPEC, source="demo")


def run_demo_report(out_dir: str | Path, *, cache=None, workers: int = 1, progress: bool = False) -> Path:
    """Sweep the demo's design points into ``out_dir/sweep`` and write the report to
    ``out_dir/report``; returns the path of ``index.html``.

    Raises
    ------
    SpecError
        If ``out_dir`` (or its ``sweep`` / ``report`` folder) is a file.
    """
    out = check_output_dir(out_dir)
    check_sweep_output_dir(out / "sweep")
    check_report_dir(out / "report", out / "sweep")
    run_sweep(demo_spec(), out / "sweep", workers=workers, cache=cache, progress=progress)
    return write_report(out / "sweep", out / "report", title="lowbit demo: sweep report")
