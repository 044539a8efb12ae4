"""Hardware descriptions: one frozen ``HardwareConfig`` parsed from a TOML file or a preset.

TOML layout (every key optional except where a preset is not used; see
``examples/hw_edge_16x16.toml``)::

    name = "my-npu"
    clock_mhz = 1000.0
    [array]      rows = 32, cols = 32, dataflows = ["ws", "os"]
    [sram]       a_kib = 256, b_kib = 512, c_kib = 128, v_kib = 256
    [dram]       channels = 8, gbps_per_channel = 25.6, latency_ns = 100.0, technology = "hbm2"
    [dma]        engines = 2
    [vector]     lanes = 32, row_units = 4, x_bits = 16, divider_bits_per_cycle = 1
    [nonlinear]  softmax = "ivit_shiftmax", gelu = "ibert_int_gelu", layernorm = "ivit_int_layernorm"

``preset = "<name>"`` at the top starts from a built-in preset and overrides its fields.
DRAM bandwidth may be ``inf`` (TOML float) for unlimited-bandwidth experiments.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from mapping import MapperLimits

from .errors import HardwareConfigError

__all__ = ["HardwareConfig", "PRESETS", "DEFAULT_PRESET", "load_hardware"]


@dataclass(frozen=True)
class HardwareConfig:
    """An accelerator: MAC array, SRAM buffers, DMA, DRAM and vector unit.

    Attributes
    ----------
    name : preset or file name.
    clock_mhz : clock of the array, vector unit and SRAM (MHz).
    array_rows, array_cols : PEs of the systolic MAC array.
    dataflows : dataflows the array supports ("ws", "os"); the mapper picks per op.
    sram_a_kib, sram_b_kib, sram_c_kib, sram_v_kib : activation, weight, accumulator and
        vector-unit buffers (KiB); the mapper double-buffers tiles in each.
    dram_channels, dram_gbps_per_channel : DRAM channels and bandwidth per channel (GB/s,
        10**9 bytes per second); ``inf`` means unlimited.
    dram_latency_ns : latency added to every transfer (ns).
    dram_technology : name of the DRAM access-energy entry the cost model is asked for.
    dma_engines : concurrent DMA transfers.
    vector_lanes : elements per cycle of the vector unit for elementwise ops (add, KV append).
    row_units : instances of each shift-add row unit (softmax, GELU, LayerNorm) working on
        different rows in parallel.
    nonlinear_units : (function, unit) pairs: which ``hw.units.nonlinear`` unit runs softmax,
        GELU and LayerNorm (``ivit_shiftmax``, ``ibert_int_gelu`` or ``ivit_shiftgelu``,
        ``ivit_int_layernorm``); a dict view is ``nonlinear_unit_map``.
    nonlinear_x_bits : input width of the LayerNorm unit (bits).
    divider_bits_per_cycle : quotient bits per cycle of the units' iterative dividers.
    """

    name: str = "custom"
    clock_mhz: float = 1000.0
    array_rows: int = 32
    array_cols: int = 32
    dataflows: tuple[str, ...] = ("ws", "os")
    sram_a_kib: int = 256
    sram_b_kib: int = 512
    sram_c_kib: int = 128
    sram_v_kib: int = 256
    dram_channels: int = 4
    dram_gbps_per_channel: float = 16.0
    dram_latency_ns: float = 100.0
    dram_technology: str = "lpddr4"
    dma_engines: int = 2
    vector_lanes: int = 32
    row_units: int = 4
    nonlinear_units: tuple[tuple[str, str], ...] = (("softmax", "ivit_shiftmax"), ("gelu", "ibert_int_gelu"),
                                                    ("layernorm", "ivit_int_layernorm"))
    nonlinear_x_bits: int = 16
    divider_bits_per_cycle: int = 1

    def __post_init__(self) -> None:
        for f in ("array_rows", "array_cols", "sram_a_kib", "sram_b_kib", "sram_c_kib", "sram_v_kib",
                  "dram_channels", "dma_engines", "vector_lanes", "row_units",
                  "nonlinear_x_bits", "divider_bits_per_cycle"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise HardwareConfigError(f"hardware field {f} must be a positive integer, not {v!r}")
        for f in ("clock_mhz", "dram_gbps_per_channel"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or math.isnan(v):
                raise HardwareConfigError(f"hardware field {f} must be a positive number, not {v!r}")
        if not math.isfinite(self.clock_mhz):
            raise HardwareConfigError(f"hardware field clock_mhz must be finite, not {self.clock_mhz!r}")
        v = self.dram_latency_ns
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf:
            raise HardwareConfigError(f"hardware field dram_latency_ns must be a finite number >= 0, not {v!r}")
        from ._timing import NONLINEAR_UNITS

        if isinstance(self.nonlinear_units, dict):
            object.__setattr__(self, "nonlinear_units", tuple(sorted(self.nonlinear_units.items())))
        for fn, unit in self.nonlinear_units:
            if unit not in NONLINEAR_UNITS or NONLINEAR_UNITS[unit][0] != fn:
                ok = [u for u, v in NONLINEAR_UNITS.items() if v[0] == fn]
                raise HardwareConfigError(f"hardware field nonlinear.{fn} must be one of {ok}, not {unit!r}")
        if not self.dataflows or any(d not in ("ws", "os") for d in self.dataflows):
            raise HardwareConfigError(f"hardware field dataflows must be a non-empty list of 'ws'/'os', "
                                      f"not {list(self.dataflows)!r}")

    @property
    def nonlinear_unit_map(self) -> dict[str, str]:
        """Vector function -> nonlinear RTL unit name."""
        return dict(self.nonlinear_units)

    @property
    def dram_bytes_per_cycle(self) -> float:
        """Aggregate DRAM bandwidth in bytes per clock cycle (``inf`` if unlimited)."""
        return self.dram_channels * self.dram_gbps_per_channel * 1e3 / self.clock_mhz

    @property
    def dram_latency_cycles(self) -> float:
        return self.dram_latency_ns * self.clock_mhz / 1e3

    def limits(self) -> MapperLimits:
        """The mapper's view of this hardware."""
        k = 1024
        return MapperLimits(self.array_rows, self.array_cols, self.sram_a_kib * k, self.sram_b_kib * k,
                            self.sram_c_kib * k, self.sram_v_kib * k, self.dram_bytes_per_cycle,
                            tuple(self.dataflows))


PRESETS: dict[str, HardwareConfig] = {
    "edge-16x16": HardwareConfig("edge-16x16", 500.0, 16, 16, ("ws", "os"), 64, 128, 32, 64, 2, 12.8, 100.0,
                                 "lpddr4", 2, 16, 4),
    "default-32x32": HardwareConfig("default-32x32", 1000.0, 32, 32, ("ws", "os"), 256, 512, 128, 256, 4,
                                    16.0, 100.0, "lpddr4", 2, 32, 16),
    "hbm-128x128": HardwareConfig("hbm-128x128", 1000.0, 128, 128, ("ws", "os"), 4096, 8192, 2048, 1024,
                                  8, 256.0, 120.0, "hbm2", 4, 128, 64),
}
DEFAULT_PRESET = "default-32x32"

_SECTIONS = {
    "array": {"rows": "array_rows", "cols": "array_cols", "dataflows": "dataflows"},
    "sram": {"a_kib": "sram_a_kib", "b_kib": "sram_b_kib", "c_kib": "sram_c_kib", "v_kib": "sram_v_kib"},
    "dram": {"channels": "dram_channels", "gbps_per_channel": "dram_gbps_per_channel",
             "latency_ns": "dram_latency_ns", "technology": "dram_technology"},
    "dma": {"engines": "dma_engines"},
    "vector": {"lanes": "vector_lanes", "row_units": "row_units", "x_bits": "nonlinear_x_bits",
               "divider_bits_per_cycle": "divider_bits_per_cycle"},
}
_TOP = {"name": "name", "clock_mhz": "clock_mhz"}


def hardware_from_dict(data: dict, *, source: str = "hardware") -> HardwareConfig:
    """Build a ``HardwareConfig`` from a parsed TOML document (see the module docstring)."""
    base = HardwareConfig()
    if "preset" in data:
        p = data["preset"]
        if p not in PRESETS:
            raise HardwareConfigError(f"hardware field preset must be one of {', '.join(PRESETS)} ({source}), not {p!r}")
        base = PRESETS[p]
    kw = {}
    for key, val in data.items():
        if key == "preset":
            continue
        if key in _TOP:
            kw[_TOP[key]] = val
        elif key == "nonlinear" and isinstance(val, dict):
            kw["nonlinear_units"] = {**base.nonlinear_unit_map, **val}
        elif key in _SECTIONS and isinstance(val, dict):
            for sub, v in val.items():
                if sub not in _SECTIONS[key]:
                    raise HardwareConfigError(f"hardware field {key}.{sub} must be one of "
                                              f"{', '.join(key + '.' + s for s in _SECTIONS[key])} ({source}), not unknown")
                kw[_SECTIONS[key][sub]] = tuple(v) if sub == "dataflows" and isinstance(v, list) else v
        else:
            raise HardwareConfigError(f"hardware field {key} must be one of preset, name, clock_mhz, "
                                      f"[{'], ['.join(_SECTIONS)}], [nonlinear] ({source}), not unknown")
    kw.setdefault("name", Path(source).stem if source != "hardware" else base.name)
    return replace(base, **kw)


def load_hardware(spec: str | Path | None = None) -> HardwareConfig:
    """A preset by name (``None`` -> ``DEFAULT_PRESET``) or a hardware TOML file.

    Raises
    ------
    HardwareConfigError
        Unknown preset, unreadable or invalid TOML, or a bad field (named in the message).
    """
    if spec is None:
        return PRESETS[DEFAULT_PRESET]
    if isinstance(spec, Path) or str(spec).endswith(".toml"):
        path = Path(spec)
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise HardwareConfigError(f"hardware path must be a readable file, not {str(path)!r} ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise HardwareConfigError(f"hardware file {str(path)!r} must be valid TOML, not ({exc})") from None
        return hardware_from_dict(data, source=str(path))
    if spec not in PRESETS:
        raise HardwareConfigError(f"hardware must be a preset ({', '.join(PRESETS)}) or a .toml path, not {spec!r}")
    return PRESETS[spec]


