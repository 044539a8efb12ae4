"""Running a sweep: cache look-up, Dask distributed execution of the missing evaluations, the
results table (one row per design point) and its files.

Each (design point, metric source) pair is one evaluation with its own content-addressed cache
entry (``_cache.py``); points that agree on what a source depends on share its entry (e.g. the
accuracy of a recipe does not depend on the array size). Look-ups happen in the client; only
missing evaluations are sent to the Dask cluster, and the client writes each result to the cache
(atomically) as soon as it arrives, so a sweep killed at any moment and started again recomputes
only what had not arrived. A Dask cluster is started only if something is missing.

Files written to the output folder, in this order: ``results.csv``, ``results.parquet``, then
``sweep.json`` (the spec, the metric sources and their status, counts, tool versions, the run's
``sweep_id`` and the SHA-256 of the two tables). Each is written atomically, ``sweep.json`` last
and removed first when a sweep starts: a folder without it is not a finished sweep, and
``lowbit report`` refuses it, as it refuses tables whose checksums are not the manifest's.

The output folder is locked for the whole run (``.lowbit-sweep.lock``, an OS file lock through
``filelock``): a second sweep into the same folder fails at once with one line instead of
mixing its files with the first's. A sweep never overwrites a ``results.csv``,
``results.parquet`` or ``sweep.json`` that an earlier sweep did not write.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hw.flow import atomic_write_bytes, atomic_write_text
from mapping import load_model

from ..errors import SpecError
from ._cache import ResultCache, canonical_json, hash_key
from ._sources import MetricSource, sources_for
from ._spec import DesignPoint, SweepSpec

__all__ = ["SCHEDULER_TIMEOUT_S", "SweepResult", "check_output_dir", "check_sweep_output_dir", "connect_client",
           "file_sha256", "point_labels", "run_sweep", "sweep_lock"]

#: seconds to wait for an existing scheduler before giving up
SCHEDULER_TIMEOUT_S = 5.0
RESULTS_CSV, RESULTS_PARQUET, MANIFEST = "results.csv", "results.parquet", "sweep.json"
#: the lock file of a sweep's output folder (also marks the folder as written by lowbit sweep)
LOCK = ".lowbit-sweep.lock"
SWEEP_FILES = (RESULTS_CSV, RESULTS_PARQUET, MANIFEST)


@dataclass
class SweepResult:
    """A finished sweep: the results table and what the run did.

    Attributes
    ----------
    frame : one row per design point (spec order).
    computed, cached, failed : points evaluated in this run, points found complete in the cache,
        points with an error (in either).
    wall_s : wall time of the run (s).
    evaluations_computed, evaluations_cached : (point, metric source) evaluations run in this
        run / found in the cache (points that agree on a source's inputs share one evaluation).
    unavailable : metric -> why its source is not available (its columns are left out).
    out_dir : the folder written (``None`` if no folder was given).
    """

    frame: pd.DataFrame
    computed: int
    cached: int
    failed: int
    wall_s: float
    evaluations_computed: int
    evaluations_cached: int
    unavailable: dict
    out_dir: Path | None = None


def check_output_dir(out_dir: str | Path, what: str = "output folder") -> Path:
    """``out_dir`` as a Path; raise if it exists and is not a folder (before any work)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SpecError(f"{what} must be a folder, not the file {str(out)!r}")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise SpecError(f"{what} must be a folder, not inside the file {str(parent)!r}")
    return out


def check_sweep_output_dir(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path; raise if it is a file, or if it holds a file of a sweep's names
    (``results.csv``, ``results.parquet``, ``sweep.json``) that no sweep wrote (no lock file,
    no manifest): a sweep never overwrites what it did not make."""
    out = check_output_dir(out_dir)
    if out.is_dir() and not (out / LOCK).exists() and not (out / MANIFEST).exists():
        theirs = [n for n in SWEEP_FILES if (out / n).exists()]
        if theirs:
            raise SpecError(f"output folder must be new, empty or an earlier sweep's, not {str(out)!r} "
                            f"(its {', '.join(theirs)} was not written by lowbit sweep)")
    return out


@contextlib.contextmanager
def sweep_lock(out: Path):
    """Hold the output folder's lock file for the ``with`` block (creating the folder).

    Raises
    ------
    SpecError
        If another process (or another sweep in this one) holds the lock.
    """
    from filelock import FileLock, Timeout

    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise SpecError(f"output folder must not be in use by another lowbit sweep, not {str(out)!r} "
                        f"(its {LOCK} is locked)") from None
    ok = False
    try:
        yield
        ok = True
    finally:
        lock.release()
        if created and not ok and not any(p.name != LOCK for p in out.iterdir()):
            (out / LOCK).unlink(missing_ok=True)  # nothing written: leave no trace of a failed start
            with contextlib.suppress(OSError):
                out.rmdir()


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _evaluate(source: MetricSource, point: DesignPoint, spec: SweepSpec) -> dict[str, Any]:
    """Run one evaluation; an exception becomes a recorded error (one line), not a crash."""
    try:
        return {"columns": source.evaluate(point, spec), "error": ""}
    except Exception as exc:  # noqa: BLE001 - a failing point is recorded, the others go on
        msg = " ".join(str(exc).split()) or "(no message)"
        return {"columns": {}, "error": f"{type(exc).__name__}: {msg}"}


def connect_client(scheduler: str | None, workers: int | None):
    """A Dask ``Client``: on the scheduler at ``scheduler`` (``tcp://HOST:PORT``), or on a new
    ``LocalCluster`` of ``workers`` single-threaded workers (processes if more than one).

    Raises
    ------
    ConnectionError
        If the scheduler does not answer within ``SCHEDULER_TIMEOUT_S`` seconds.
    """
    import logging

    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout=SCHEDULER_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError):
            raise ConnectionError(f"scheduler must be a reachable Dask scheduler address, not {scheduler!r} "
                                  f"(no connection within {SCHEDULER_TIMEOUT_S:g} s)") from None
    n = workers or 1
    # ":0": the scheduler's HTTP server on a free port (with None it still binds 8787, and warns
    # when another cluster on the machine holds that port)
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=n > 1, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    return Client(cluster, set_as_default=False)


def _close(client) -> None:
    cluster = client.cluster if hasattr(client, "cluster") else None
    client.close()
    if cluster is not None:
        cluster.close()


def _versions(sources: list[MetricSource]) -> dict[str, Any]:
    return {type(s).__name__: s.versions() for s in sources}


def run_sweep(spec: SweepSpec, out_dir: str | Path | None = None, *, scheduler: str | None = None,
              workers: int | None = None, cache: ResultCache | str | Path | None = None,
              progress: bool = True) -> SweepResult:
    """Evaluate every design point of ``spec`` (cached results reused) and write the results.

    Three phases: :func:`_plan` (metric sources, cache keys, look-ups), :func:`_execute` (the
    missing evaluations on Dask, each cached as it arrives) and the assembly of the table and
    its files, the output folder locked from before the plan to the last write.

    Parameters
    ----------
    spec : the parsed sweep.
    out_dir : folder for ``results.csv``, ``results.parquet`` and ``sweep.json`` (``None``:
        write nothing).
    scheduler : address of an existing Dask scheduler; ``None`` starts a local cluster.
    workers : workers of the local cluster (default 1; ``lowbit sweep`` defaults to the
        machine's cores): single-threaded, in-process for 1, processes for more.
    cache : result cache (folder or :class:`ResultCache`); default ``default_cache_dir()``.
    progress : show a tqdm progress bar (done / cached / failed) on stderr.

    Raises
    ------
    SpecError
        If ``out_dir`` is a file, holds sweep-named files no sweep wrote, or is locked by another
        sweep, or ``workers`` is not a positive integer or is given with a scheduler.
    ConnectionError
        If the scheduler cannot be reached.
    """
    t0 = time.perf_counter()
    if not isinstance(spec, SweepSpec):
        raise TypeError(f"spec must be a SweepSpec, not {type(spec).__name__}")
    out = check_sweep_output_dir(out_dir) if out_dir is not None else None
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SpecError(f"workers must be a positive integer, not {workers!r}")
    if workers is not None and scheduler is not None:
        raise SpecError(f"workers must be left out when a scheduler is given, not {workers!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or "://" not in scheduler):
        raise SpecError(f"scheduler must be an address such as tcp://HOST:PORT, not {scheduler!r}")
    store = cache if isinstance(cache, ResultCache) else ResultCache(cache)
    with sweep_lock(out) if out is not None else contextlib.nullcontext():  # a busy folder fails at once
        plan = _plan(spec, store)
        failed_ids = _execute(spec, plan, store, out, scheduler, workers, progress)
        frame = _frame(spec, plan.sources, plan.keys, plan.payloads, plan.versions)
        result = SweepResult(frame=frame, computed=len(spec.points) - len(plan.cached_points),
                             cached=len(plan.cached_points), failed=len(failed_ids), wall_s=time.perf_counter() - t0,
                             evaluations_computed=len(plan.todo), evaluations_cached=plan.n_hits,
                             unavailable=plan.unavailable, out_dir=out)
        if out is not None:
            write_results(result, spec, out, plan.versions, store)
    return result


@dataclass
class _Plan:
    """What a sweep has to do: the available sources, each point's cache keys, the payloads
    found in the cache, and the evaluations still to run."""

    sources: list[MetricSource]
    unavailable: dict[str, str]
    versions: dict[str, Any]
    keys: list[list[str]]
    payloads: dict[str, dict]
    todo: dict[str, tuple[MetricSource, DesignPoint]]
    cached_points: list[int]
    n_hits: int


def _plan(spec: SweepSpec, store: ResultCache) -> _Plan:
    """Phase 1: the metric sources (unavailable ones with their reason), every (point, source)
    cache key, and the cache look-ups (in the client)."""
    unavailable: dict[str, str] = {}
    sources = []
    for s in sources_for(spec.metrics, spec):
        reason = s.status()
        if reason is None:
            sources.append(s)
        else:
            for m in s.metrics:
                if m in spec.metrics:
                    unavailable[m] = reason
    versions = _versions(sources)
    keys: list[list[str]] = []
    payloads: dict[str, dict] = {}
    todo: dict[str, tuple[MetricSource, DesignPoint]] = {}
    for p in spec.points:
        row_keys = []
        for s in sources:
            k = hash_key(type(s).__name__, s.key_parts(p, spec), s.rtl_hashes(p, spec, store), versions[type(s).__name__])
            row_keys.append(k)
            if k in payloads or k in todo:
                continue
            hit = store.get(k)
            if hit is not None:
                payloads[k] = hit
            else:
                todo[k] = (s, p)
        keys.append(row_keys)
    cached_points = [i for i, ks in enumerate(keys) if all(k in payloads for k in ks)]
    return _Plan(sources, unavailable, versions, keys, payloads, todo, cached_points, len(payloads))


def _execute(spec: SweepSpec, plan: _Plan, store: ResultCache, out: Path | None, scheduler: str | None,
             workers: int | None, progress: bool) -> set[int]:
    """Phase 2: run the missing evaluations on Dask, caching each as it arrives (``plan.payloads``
    is filled in); returns the indices of the points with an error."""
    keys, payloads = plan.keys, plan.payloads
    client = connect_client(scheduler, workers) if plan.todo else None  # fails before anything is written
    if out is not None:
        (out / MANIFEST).unlink(missing_ok=True)  # not a finished sweep until written again
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(spec.points), desc=f"sweep {spec.name}", unit="point", leave=True)
        bar.update(len(plan.cached_points))
    failed_ids: set[int] = set()

    def _count(i: int) -> None:
        if any(payloads[k]["error"] for k in keys[i]):
            failed_ids.add(i)

    for i in plan.cached_points:
        _count(i)
    if bar is not None:
        bar.set_postfix(done=0, cached=len(plan.cached_points), failed=len(failed_ids))
    if not plan.todo:
        if bar is not None:
            bar.close()
        return failed_ids
    waiting = {i: {k for k in ks if k not in payloads} for i, ks in enumerate(keys) if i not in plan.cached_points}
    by_key: dict[str, list[int]] = {}
    for i, ks in waiting.items():
        for k in ks:
            by_key.setdefault(k, []).append(i)
    try:
        from dask.distributed import as_completed

        futures = {client.submit(_evaluate, s, p, spec, key=f"lowbit-{k}", pure=False): k
                   for k, (s, p) in plan.todo.items()}
        done = 0
        for fut in as_completed(list(futures), loop=client.loop):
            k = futures[fut]
            try:
                # as stored and as read back: a fresh result and a cached one are the same values
                payload = json.loads(canonical_json(fut.result()))
                store.put(k, payload)  # deterministic failures are cached too
            except Exception as exc:  # noqa: BLE001 - a lost worker: recorded, not cached
                payload = {"columns": {}, "error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}
            payloads[k] = payload
            for i in by_key[k]:
                waiting[i].discard(k)
                if not waiting[i]:
                    done += 1
                    _count(i)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(done=done, cached=len(plan.cached_points), failed=len(failed_ids))
    finally:
        _close(client)
        if bar is not None:
            bar.close()
    return failed_ids


def _frame(spec: SweepSpec, sources: list[MetricSource], keys: list[list[str]], payloads: dict,
           versions: dict) -> pd.DataFrame:
    rows = []
    metric_cols: list[str] = []  # per source (in source order), names sorted: independent of the cache
    for j in range(len(sources)):
        names = sorted({c for ks in keys for c in payloads[ks[j]]["columns"]})
        metric_cols += [c for c in names if c not in metric_cols]
    tools: dict[str, str] = {}
    for v in versions.values():
        tools.update(v["packages"])
    tools_json = json.dumps(dict(sorted(tools.items())), sort_keys=True)
    code_json = json.dumps({n: v["code_sha256"][:16] for n, v in versions.items()}, sort_keys=True)
    labels = point_labels(spec.points)
    for i, (p, ks) in enumerate(zip(spec.points, keys)):
        hw = p.hardware_config()
        r = p.recipe_obj()
        row: dict[str, Any] = {"point": i, "label": labels[i], **p.axis_values(),
                               "array_rows": hw.array_rows, "array_cols": hw.array_cols,
                               "dataflows": "+".join(hw.dataflows), "clock_mhz": float(hw.clock_mhz),
                               "sram_kib": hw.sram_a_kib + hw.sram_b_kib + hw.sram_c_kib + hw.sram_v_kib,
                               "dram_gbps": float(hw.dram_channels * hw.dram_gbps_per_channel),
                               "weights": str(r.weights.format), "activations": str(r.activations.format),
                               "accumulator": str(r.accumulator), "accumulate_mode": r.accumulate}
        row["layers"] = p.layers if p.layers is not None else load_model(p.model).n_layers
        cols: dict[str, Any] = {c: float("nan") for c in metric_cols}
        errors = []
        for s, k in zip(sources, ks):
            pl = payloads[k]
            cols.update(pl["columns"])
            if pl["error"]:
                errors.append(f"{'/'.join(s.metrics)}: {pl['error']}")
        row.update(cols)
        row["status"] = "failed" if errors else "ok"
        row["error"] = " | ".join(errors)
        row["cache_key"] = hash_key(ks)
        if not isinstance(row.get("rtl_sha256"), str):
            row["rtl_sha256"] = ""
        row["tool_versions"] = tools_json
        row["code_sha256"] = code_json
        rows.append(row)
    frame = pd.DataFrame(rows)
    for c in frame.columns:  # provenance / text columns with missing entries: empty strings
        if c.endswith("_provenance") or c == "sim_notes":
            frame[c] = frame[c].where(frame[c].notna(), "").astype(str)
    return frame


def point_labels(points) -> list[str]:
    """Short labels naming the recipe and every other axis that varies across ``points``
    (e.g. "INT8 16x16", or "gpt2 FP8 32x32 25.6GB/s" when models and bandwidths vary)."""
    hws = [p.hardware_config() for p in points]
    parts = {
        "model": [p.model for p in points], "seq_len": [f"{p.seq_len}tok" for p in points],
        "batch": [f"b{p.batch}" for p in points], "decode": [f"+{p.decode}dec" for p in points],
        "recipe": [p.recipe for p in points],
        "accumulate": ["" if p.accumulate == "recipe" else f"acc-{p.accumulate}" for p in points],
        "hardware": [Path(p.hardware).stem for p in points],
        "array": [f"{h.array_rows}x{h.array_cols}" for h in hws],
        "dataflow": ["+".join(h.dataflows) for h in hws],
        "sram_kib": [f"{h.sram_a_kib + h.sram_b_kib + h.sram_c_kib + h.sram_v_kib}KiB" for h in hws],
        "dram_gbps": [f"{h.dram_channels * h.dram_gbps_per_channel:g}GB/s" for h in hws],
    }
    keep = [k for k, v in parts.items() if k in ("recipe", "array") or len(set(v)) > 1]
    return [" ".join(parts[k][i] for k in keep if parts[k][i]) for i in range(len(points))]


def write_results(result: SweepResult, spec: SweepSpec, out: Path, versions: dict, store: ResultCache) -> None:
    """Write ``results.csv``, ``results.parquet`` and (last) ``sweep.json`` atomically; the
    manifest holds a fresh ``sweep_id`` and the SHA-256 of the two tables it goes with."""
    csv_bytes = result.frame.to_csv(index=False).encode("utf-8")
    parquet_bytes = result.frame.to_parquet(index=False)
    atomic_write_bytes(out / RESULTS_CSV, csv_bytes)
    atomic_write_bytes(out / RESULTS_PARQUET, parquet_bytes)
    manifest = {
        "sweep_id": uuid.uuid4().hex,
        "name": spec.name, "description": spec.description, "spec": spec.source, "metrics": list(spec.metrics),
        "unavailable": result.unavailable, "points": len(spec.points),
        "accuracy": asdict(spec.accuracy), "unit_energy": spec.unit_energy,
        "run": {"computed": result.computed, "cached": result.cached, "failed": result.failed,
                "evaluations_computed": result.evaluations_computed,
                "evaluations_cached": result.evaluations_cached, "wall_s": round(result.wall_s, 3)},
        "cache": str(store.root), "versions": versions,
        "files": {RESULTS_CSV: hashlib.sha256(csv_bytes).hexdigest(),
                  RESULTS_PARQUET: hashlib.sha256(parquet_bytes).hexdigest()},
    }
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
