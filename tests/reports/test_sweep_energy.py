"""The sweep's energy when the standard-cell MAC cannot meet the hardware's clock: the generic
flow's MAC energy is used instead and the point's energy provenance says so and why."""
from __future__ import annotations

import math

from reports.sweep._sources import SimulatorSource, characterize_mac
from reports.sweep._spec import spec_from_dict
from sim import simulate


def test_unmet_clock_falls_back_to_the_generic_flow_and_says_so(tmp_path) -> None:
    # 3 GHz at 45 nm: above the INT8 PE's Fmax at every pipeline depth (default-32x32's 1 GHz is
    # met by its PE with the product register, hw.cost.meet_clock timed="per_product")
    hw_file = tmp_path / "hw_3ghz.toml"
    hw_file.write_text('preset = "default-32x32"\nname = "default-3ghz"\nclock_mhz = 3000.0\n', encoding="utf-8")
    spec = spec_from_dict({"metrics": ["energy"], "layers": 1,
                           "axes": {"recipe": "INT8", "seq_len": 16, "array": "8x8", "hardware": str(hw_file)}})
    p = spec.points[0]
    out = SimulatorSource().evaluate(p, spec)
    rec = characterize_mac(p.recipe_obj(), energy=True)[2]
    direct = simulate(p.model, p.recipe_obj(), p.hardware_config(), prefill=p.seq_len, layers=1, mac_cost=rec)
    assert math.isfinite(out["energy_pj"]) and out["energy_pj"] == direct.summary["energy_pj"]
    prov = out["energy_provenance"]
    assert prov.startswith("derived: ")
    assert ("MAC energy from the generic flow (no clock target) because the standard-cell datapath energy of "
            "INT8 on default-3ghz/array=8x8 must be characterisable, not: clock target must be at most") in prov
    assert "stimulus: gaussian" in prov


def test_missing_standard_cell_tools_fall_back_to_the_generic_flow_and_say_so(no_opensta) -> None:
    """On a machine without OpenSTA (the README's demo installs Python packages only) a sweep point
    still has its energy, from the generic flow, and its provenance says why."""
    spec = spec_from_dict({"metrics": ["energy"], "layers": 1,
                           "axes": {"recipe": "INT8", "seq_len": 16, "array": "8x8", "hardware": "edge-16x16"}})
    p = spec.points[0]
    out = SimulatorSource().evaluate(p, spec)
    rec = characterize_mac(p.recipe_obj(), energy=True)[2]
    direct = simulate(p.model, p.recipe_obj(), p.hardware_config(), prefill=p.seq_len, layers=1, mac_cost=rec)
    assert math.isfinite(out["energy_pj"]) and out["energy_pj"] == direct.summary["energy_pj"]
    assert ("MAC energy from the generic flow (no clock target) because the standard-cell flow is not available "
            "here: OpenSTA (sta) is not installed: apt-get install -y opensta") in out["energy_provenance"]
