"""Technology-node scaling of area, delay and energy: Stillmaker & Baas 2017.

A. Stillmaker, B. Baas, "Scaling equations for the accurate prediction of CMOS device
performance from 180 nm to 7 nm", Integration, the VLSI Journal 58 (2017) 74-81,
doi:10.1016/j.vlsi.2017.02.002. Their fits, relayed here (coefficients as tabulated by the
MIT-licensed ``nodeScale`` tool of UCLA NanoCAD, which implements the paper):

* area: one factor per (from, to) node pair (their Table of area scaling factors);
* delay: a cubic in the supply voltage per node, ``d(V) = a3 V^3 + a2 V^2 + a1 V + a0``;
* energy: a quadratic per node, ``e(V) = b2 V^2 + b1 V + b0``;

and a figure at node X, voltage Vx scales to node Y, voltage Vy by ``f_Y(Vy) / f_X(Vx)``.
Nodes at and below 45 nm use the high-performance (HP) fits; every node is taken at its
nominal supply (the PTM model voltages the paper uses). Figures scaled this way are *derived*
(the records say so), not measured.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnitConfigError

__all__ = ["NODES", "NodeScaling", "node_scaling", "SCALING_SOURCE"]

SCALING_SOURCE = ("Stillmaker & Baas, Integration 58 (2017) 74-81, doi:10.1016/j.vlsi.2017.02.002 "
                  "(HP fits at nominal supply; coefficients as tabulated by UCLA NanoCAD nodeScale)")

#: node (nm) -> nominal supply (V)
NOMINAL_VDD = {180: 1.8, 130: 1.3, 90: 1.2, 65: 1.1, 45: 1.0, 32: 0.9, 20: 0.9, 16: 0.85, 14: 0.8,
               10: 0.75, 7: 0.7}

#: area factor from 180 nm to each node
_AREA_FROM_180 = {180: 1.0, 130: 0.34, 90: 0.15, 65: 0.08, 45: 0.053, 32: 0.025, 20: 0.011, 16: 0.01,
                  14: 0.0093, 10: 0.0055, 7: 0.0032}
#: area factor from 45 nm to each node (the paper tabulates every pair; two rows suffice here)
_AREA_FROM_45 = {180: 19.0, 130: 6.4, 90: 2.8, 65: 1.5, 45: 1.0, 32: 0.46, 20: 0.21, 16: 0.19, 14: 0.17,
                 10: 0.1, 7: 0.059}
_AREA = {180: _AREA_FROM_180, 45: _AREA_FROM_45}

#: delay cubic (a3, a2, a1, a0) and energy quadratic (b2, b1, b0) per node
_DELAY = {180: (0, 97.09, -356.7, 406.5), 130: (-76.65, 334.9, -493.4, 275.8),
          90: (-60.34, 262.5, -384.2, 210.9), 65: (-53.3, 230.4, -333.9, 178.6),
          45: (-501.6, 1567, -1619, 566.1), 32: (-1047, 2982, -2797, 873.5),
          20: (0, 34.63, -66.37, 41.15), 16: (0, 24.8, -47.52, 28.87), 14: (-40.66, 109.2, -100.6, 35.92),
          10: (-34.95, 93.65, -85.99, 30.4), 7: (-28.58, 76.6, -70.26, 24.69)}
_ENERGY = {180: (0, 24.64, -17.98), 130: (7.171, -6.709, 2.904), 90: (4.762, -4.781, 2.092),
           65: (3.755, -4.398, 1.975), 45: (1.018, -0.3107, 0.1539), 32: (0.8367, -0.4341, 0.1701),
           20: (0.373, -0.1582, 0.04104), 16: (0.2958, -0.1241, 0.03024), 14: (0.2363, -0.09675, 0.02239),
           10: (0.2068, -0.09311, 0.02375), 7: (0.1776, -0.09097, 0.02447)}

NODES = tuple(NOMINAL_VDD)


def _delay(node: int) -> float:
    a3, a2, a1, a0 = _DELAY[node]
    v = NOMINAL_VDD[node]
    return ((a3 * v + a2) * v + a1) * v + a0


def _energy(node: int) -> float:
    b2, b1, b0 = _ENERGY[node]
    v = NOMINAL_VDD[node]
    return (b2 * v + b1) * v + b0


@dataclass(frozen=True)
class NodeScaling:
    """Factors that take a figure from node ``source_nm`` to ``target_nm`` (both at nominal
    supply): multiply an area by ``area``, a delay by ``delay`` (a frequency divides by it), an
    energy by ``energy``."""

    source_nm: int
    target_nm: int
    area: float
    delay: float
    energy: float
    source: str = SCALING_SOURCE


def _node(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in NOMINAL_VDD:
        raise UnitConfigError(f"{what} must be one of {', '.join(map(str, NODES))} (nm), not {value!r}")
    return value


def node_scaling(*, source_nm: int, target_nm: int) -> NodeScaling:
    """Scaling factors from ``source_nm`` to ``target_nm`` (see the module docstring).

    Raises
    ------
    UnitConfigError
        For a node the paper does not cover, or an area pair not tabulated here (sources other
        than 180 and 45 nm).
    """
    src, dst = _node(source_nm, "source node"), _node(target_nm, "target node")
    if src not in _AREA:
        raise UnitConfigError(f"source node must be one of {', '.join(map(str, _AREA))} (nm), not {src!r}")
    return NodeScaling(source_nm=src, target_nm=dst, area=_AREA[src][dst], delay=_delay(dst) / _delay(src),
                       energy=_energy(dst) / _energy(src))
