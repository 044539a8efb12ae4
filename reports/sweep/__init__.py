"""Design-space sweeps: specs, metric sources, the content-addressed result cache, execution on
Dask distributed, and the HTML report."""
from __future__ import annotations

from ._cache import ResultCache, default_cache_dir, hash_key
from ._sources import AccuracySource, MetricSource, SimulatorSource, UnitCostSource, sources_for
from ._report import load_results, pareto_front, write_report
from ._run import SweepResult, run_sweep
from ._spec import AXES, METRICS, AccuracySettings, DesignPoint, SweepSpec, load_spec, spec_from_dict

__all__ = [
    "AXES", "AccuracySettings", "AccuracySource", "DesignPoint", "METRICS", "MetricSource", "ResultCache",
    "SimulatorSource", "SweepSpec", "UnitCostSource", "default_cache_dir", "hash_key", "load_spec",
    "SweepResult", "load_results", "pareto_front", "run_sweep", "sources_for", "spec_from_dict",
    "write_report",
]
