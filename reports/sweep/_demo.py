"""The small sweep ``lowbit demo`` ends with: its default design points (the headline recipes
INT8, FP8 and MXFP4 on the default 32x32 accelerator, one BERT-base layer of 128 tokens), swept,
cached and written up as an HTML report. The recipes are the demo's design-point recipes, so the
MAC units whose energy the sweep needs are the ones the demo has already characterised (FP16's
wide MAC would add minutes to a cold first run; ``examples/sweep_small.toml`` has it)."""
from __future__ import annotations

from pathlib import Path

from ._report import check_report_dir, write_report
from ._run import check_output_dir, check_sweep_output_dir, run_sweep
from ._spec import SweepSpec, spec_from_dict

__all__ = ["DEMO_SPEC", "check_demo_dirs", "demo_spec", "run_demo_report"]

#: the demo sweep as a spec document (points of ``examples/sweep_small.toml`` at 32x32, without FP16)
DEMO_SPEC = {
    "name": "demo",
    "description": "lowbit demo: INT8, FP8 and MXFP4 on the default 32x32 accelerator, one BERT-base layer of "
                   "128 tokens",
    "metrics": ["latency", "energy", "accuracy"],
    "layers": 1,
    "axes": {"model": "bert-base", "seq_len": 128, "recipe": ["INT8", "FP8", "MXFP4"], "array": "32x32",
             "hardware": "default-32x32"},
    "accuracy": {"tokens": 16, "seed": 0},
}


def demo_spec() -> SweepSpec:
    """The parsed demo sweep."""
    return spec_from_dict(DEMO_SPEC, source="demo")


def check_demo_dirs(out_dir: str | Path) -> Path:
    """Check ``out_dir``, its ``sweep`` and ``report`` folders before any work (see
    :func:`run_demo_report`)."""
    out = check_output_dir(out_dir)
    check_sweep_output_dir(out / "sweep")
    check_report_dir(out / "report", out / "sweep")
    return out


def run_demo_report(out_dir: str | Path, *, cache=None, workers: int = 1, progress: bool = False) -> Path:
    """Sweep the demo's design points into ``out_dir/sweep`` and write the report to
    ``out_dir/report``; returns the path of ``index.html``.

    Raises
    ------
    SpecError
        If ``out_dir`` (or its ``sweep`` / ``report`` folder) is a file.
    """
    out = check_demo_dirs(out_dir)
    run_sweep(demo_spec(), out / "sweep", workers=workers, cache=cache, progress=progress)
    return write_report(out / "sweep", out / "report", title="lowbit demo: sweep report")
