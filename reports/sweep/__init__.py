"""Design-space sweeps: specs parsed into frozen design points, metric sources behind a narrow
interface, the content-addressed result cache, execution on Dask distributed, the results table
and the self-contained HTML report (``lowbit sweep`` / ``lowbit report``); ``run_demo_report``
is the small report ``lowbit demo`` ends with."""
from __future__ import annotations

from ._cache import ResultCache, default_cache_dir, hash_key
from ._demo import demo_spec, run_demo_report
from ._report import load_results, pareto_front, write_report
from ._run import SweepResult, run_sweep
from ._sources import AccuracySource, MetricSource, SimulatorSource, UnitCostSource, sources_for
from ._spec import AXES, METRICS, AccuracySettings, DesignPoint, SweepSpec, load_spec, spec_from_dict

__all__ = [
    "AXES", "AccuracySettings", "AccuracySource", "DesignPoint", "METRICS", "MetricSource", "ResultCache",
    "SimulatorSource", "SweepResult", "SweepSpec", "UnitCostSource", "default_cache_dir", "demo_spec", "hash_key",
    "load_results", "load_spec", "pareto_front", "run_demo_report", "run_sweep", "sources_for", "spec_from_dict",
    "write_report",
]
