"""The demo's cost section on a machine without the standard-cell packages: the README's first
command installs Python packages only, so the section says it falls back to the generic flow
instead of failing (the test command installs the packages; see the ``standard_cells`` fixture)."""
from __future__ import annotations

from reports.commands import demo


def test_cost_section_falls_back_to_the_generic_flow_without_opensta(no_opensta, capsys):
    assert demo._cost_flow() == ["--flow", "generic"]
    out = capsys.readouterr().out.strip()
    assert out == ("standard-cell flow unavailable (OpenSTA (sta) is not installed: apt-get install -y opensta); "
                   "this section uses the generic calibrated flow (--flow generic)")


def test_cost_section_uses_the_standard_cell_flow_when_installed(standard_cells, capsys):
    assert demo._cost_flow() == []
    assert capsys.readouterr().out == ""
