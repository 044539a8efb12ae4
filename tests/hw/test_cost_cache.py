"""The one content-addressed cache (``hw.cost.CostCache``), also behind the sweep's
``ResultCache``: invalid entries (non-UTF-8, truncated, edited) are recomputed, and the log
names the file."""
from __future__ import annotations

import logging
import math

import pytest

from hw.cost import CostCache, canonical_json, hash_key
from reports.sweep import ResultCache


@pytest.mark.parametrize("damage", ["non-utf8", "truncated", "edited"])
def test_invalid_entry_is_absent_and_logged_with_its_file(tmp_path, caplog, damage) -> None:
    cache = CostCache(tmp_path)
    key = hash_key("unit", 1)
    path = cache.put("asic", key, {"area_um2": 12.5})
    text = path.read_bytes()
    path.write_bytes({"non-utf8": b"\xff\xfe" + text, "truncated": text[: len(text) // 2],
                      "edited": text.replace(b"12.5", b"13.5")}[damage])
    with caplog.at_level(logging.WARNING, logger="hw.cost"):
        assert cache.get("asic", key) is None
    assert cache.corrupt == 1
    (record,) = caplog.records
    assert str(path) in record.getMessage() and "recomputing" in record.getMessage()
    cache.put("asic", key, {"area_um2": 12.5})  # recomputed and overwritten
    assert cache.get("asic", key) == {"area_um2": 12.5}


def test_sweep_results_live_in_the_same_cache_with_the_same_hasher(tmp_path) -> None:
    sweep = ResultCache(tmp_path / "sweep")
    key = hash_key({"model": "bert", "nan": math.nan})
    sweep.put(key, {"cycles": 10, "energy": math.inf})
    assert CostCache(tmp_path / "sweep").get("points", key) == {"cycles": 10, "energy": math.inf}
    assert sweep.path(key) == CostCache(tmp_path / "sweep").path("points", key)
    assert canonical_json({"b": 1, "a": math.nan}) == '{"a":NaN,"b":1}'
