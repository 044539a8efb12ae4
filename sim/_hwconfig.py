"""Hardware descriptions: one frozen ``HardwareConfig`` parsed from a TOML file or a preset.

TOML layout (every key optional; see ``examples/hw_edge_16x16.toml``)::

    preset = "default-32x32"   # the base the file overrides (default: DEFAULT_PRESET)
    name = "my-npu"
    clock_mhz = 1000.0
    [array]      rows = 32, cols = 32, dataflows = ["ws", "os", "gemv"], area_mm2 = 1.5
    [sram]       a_kib = 256, b_kib = 512, c_kib = 128, v_kib = 256
    [dram]       channels = 8, gbps_per_channel = 25.6, latency_ns = 100.0, technology = "hbm2"
    [dma]        engines = 2
    [global_buffer] kib = 40960, gbps = 7219.2   # shared by the cores; kib = 0 (default): none;
                                                 # gbps only with kib (kib = 0 switches a preset's off)
    [vector]     lanes = 32, row_units = 4, x_bits = 16, divider_bits_per_cycle = 1
    [nonlinear]  softmax = "ivit_shiftmax", gelu = "ibert_int_gelu", layernorm = "ivit_int_layernorm",
                 rmsnorm = "int_rmsnorm", silu_mul = "int_silu"

There is one set of defaults: a file without ``preset`` starts from ``DEFAULT_PRESET``, and
``HardwareConfig()`` *is* that preset's configuration (``describe()`` prints every field).
DRAM bandwidth may be ``inf`` (TOML float) for unlimited-bandwidth experiments.
``[array] area_mm2`` asks for an iso-area array: the simulator sizes a square array from the
area of the recipe's PE (``sized_for``), replacing ``rows`` and ``cols``.

Fields are validated by a pydantic model (types strict: ``8.0`` is not an integer, ``true`` is
not a number; ranges bounded so that absurd values such as ``latency_ns = 1e300`` are refused);
errors keep the project's one-line form "hardware field <toml key> must be <rule>, not <value!r>".
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hw.cost import MEMORY_SOURCES
from hw.units.nonlinear import units_for
from mapping import MapperLimits

from ._dram import sustained_fraction
from .errors import HardwareConfigError

__all__ = ["HardwareConfig", "PRESETS", "DEFAULT_PRESET", "load_hardware", "hardware_from_dict",
           "DRAM_TECHNOLOGIES"]

#: DRAM technologies the cost model has access energies for (``hw.cost.MEMORY_SOURCES``)
DRAM_TECHNOLOGIES = tuple(k for k in MEMORY_SOURCES if not k.startswith("sram"))
DATAFLOWS = ("ws", "os", "gemv", "is")

_SECTIONS = {
    "array": {"rows": "array_rows", "cols": "array_cols", "dataflows": "dataflows", "area_mm2": "array_area_mm2",
              "double_buffer": "array_double_buffer", "chain": "array_chain"},
    "sram": {"a_kib": "sram_a_kib", "b_kib": "sram_b_kib", "c_kib": "sram_c_kib", "v_kib": "sram_v_kib"},
    "dram": {"channels": "dram_channels", "gbps_per_channel": "dram_gbps_per_channel",
             "latency_ns": "dram_latency_ns", "technology": "dram_technology", "efficiency": "dram_efficiency"},
    "dma": {"engines": "dma_engines"},
    "schedule": {"fusion": "fusion", "overlap": "overlap"},
    "chips": {"count": "chips", "link_gbps": "link_gbps", "link_latency_ns": "link_latency_ns"},
    "global_buffer": {"kib": "gb_kib", "gbps": "gb_gbps"},
    "vector": {"lanes": "vector_lanes", "row_units": "row_units", "x_bits": "nonlinear_x_bits",
               "divider_bits_per_cycle": "divider_bits_per_cycle"},
}
_TOP = {"name": "name", "clock_mhz": "clock_mhz", "cores": "cores"}
#: dataclass field -> its TOML key (what error messages name)
_TOML_KEY = {f: f"{sec}.{k}" for sec, keys in _SECTIONS.items() for k, f in keys.items()} | _TOP | {
    "nonlinear_units": "nonlinear"}


def _int(lo: int, hi: int):
    return Annotated[int, Field(ge=lo, le=hi)]


#: dataclass field -> rule text of its error message (the pydantic constraint says the same)
_RULES = {
    "name": "a string",
    "clock_mhz": "a number in [1, 100000] (MHz)",
    "array_rows": "an integer in 1..4096", "array_cols": "an integer in 1..4096",
    "dataflows": f"a non-empty list of {', '.join(map(repr, DATAFLOWS))} with 'ws' or 'os'",
    "array_area_mm2": "a number in (0, 10000] (mm2) or absent",
    "sram_a_kib": "an integer in 1..1048576 (KiB)", "sram_b_kib": "an integer in 1..1048576 (KiB)",
    "sram_c_kib": "an integer in 1..1048576 (KiB)", "sram_v_kib": "an integer in 1..1048576 (KiB)",
    "dram_channels": "an integer in 1..1024",
    "dram_gbps_per_channel": "a number in (0, 100000] (GB/s) or inf",
    "dram_latency_ns": "a number in [0, 1000000] (ns)",
    "dram_technology": f"one of {', '.join(DRAM_TECHNOLOGIES)}",
    "dram_efficiency": "a number in (0, 1] (sustained / peak bandwidth)",
    "cores": "an integer in 1..1024",
    "fusion": "true or false",
    "overlap": "true or false",
    "array_double_buffer": "true or false",
    "array_chain": "true or false, and true only with array.double_buffer = true",
    "chips": "an integer in 1..64",
    "link_gbps": "a number in (0, 100000] (GB/s per direction)",
    "link_latency_ns": "a number in [0, 1000000] (ns)",
    "dma_engines": "an integer in 1..64",
    "gb_kib": "an integer in 0..4194304 (KiB; 0: no global buffer)",
    "gb_gbps": "a number in (0, 1000000] (GB/s) or inf when global_buffer.kib > 0",
    "vector_lanes": "an integer in 1..65536", "row_units": "an integer in 1..4096",
    "nonlinear_x_bits": "an integer in 2..32", "divider_bits_per_cycle": "an integer in 1..32",
    "nonlinear_units": "a table of function = unit names",
}


class _Fields(BaseModel):
    """The schema of ``HardwareConfig`` (strict types, bounded ranges)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    name: str
    clock_mhz: Annotated[float, Field(ge=1.0, le=1e5)]
    array_rows: _int(1, 4096)
    array_cols: _int(1, 4096)
    dataflows: Annotated[tuple[Literal["ws", "os", "gemv", "is"], ...], Field(min_length=1)]
    array_area_mm2: Annotated[float, Field(gt=0.0, le=1e4)] | None
    sram_a_kib: _int(1, 1 << 20)
    sram_b_kib: _int(1, 1 << 20)
    sram_c_kib: _int(1, 1 << 20)
    sram_v_kib: _int(1, 1 << 20)
    dram_channels: _int(1, 1024)
    dram_gbps_per_channel: Annotated[float, Field(gt=0.0, allow_inf_nan=True)]
    dram_latency_ns: Annotated[float, Field(ge=0.0, le=1e6)]
    dram_technology: Literal[DRAM_TECHNOLOGIES]
    dram_efficiency: Annotated[float, Field(gt=0.0, le=1.0)]
    cores: _int(1, 1024)
    fusion: bool
    overlap: bool
    array_double_buffer: bool
    array_chain: bool
    chips: _int(1, 64)
    link_gbps: Annotated[float, Field(gt=0.0, le=1e5)]
    link_latency_ns: Annotated[float, Field(ge=0.0, le=1e6)]
    dma_engines: _int(1, 64)
    gb_kib: _int(0, 1 << 22)
    gb_gbps: Annotated[float, Field(ge=0.0, allow_inf_nan=True)]
    vector_lanes: _int(1, 65536)
    row_units: _int(1, 4096)
    nonlinear_units: tuple[tuple[str, str], ...]
    nonlinear_x_bits: _int(2, 32)
    divider_bits_per_cycle: _int(1, 32)


def _one_line(exc: ValidationError, values: dict) -> HardwareConfigError:
    err = exc.errors()[0]
    field = str(err["loc"][0])
    return HardwareConfigError(f"hardware field {_TOML_KEY.get(field, field)} must be {_RULES[field]}, "
                               f"not {values.get(field, err['input'])!r}")


@dataclass(frozen=True)
class HardwareConfig:
    """An accelerator: MAC array, SRAM buffers, DMA, DRAM and vector unit. The defaults are
    the ``default-32x32`` preset.

    Attributes
    ----------
    name : preset or file name.
    clock_mhz : clock of the array, vector unit and SRAM (MHz).
    array_rows, array_cols : PEs of the systolic MAC array.
    dataflows : dataflows the array supports ("ws", "os" from ``hw.arrays``; "gemv": the
        weight-streaming mode of ``sim._gemv`` for GEMMs with fewer A rows than array rows;
        "is": input-stationary, the WS array on the transposed tile, where its pinned-operand
        path can take activations); the mapper picks per op.
    array_area_mm2 : iso-area request: size a square array to this MAC-array area (mm2) from
        the recipe's PE area (``sized_for``); None keeps ``array_rows x array_cols``.
    sram_a_kib, sram_b_kib, sram_c_kib, sram_v_kib : activation, weight, accumulator and
        vector-unit buffers (KiB); the mapper double-buffers tiles in each.
    dram_channels, dram_gbps_per_channel : DRAM channels and bandwidth per channel (GB/s,
        10**9 bytes per second); ``inf`` means unlimited.
    dram_latency_ns : latency added to every transfer (ns).
    dram_technology : DRAM access-energy entry of the cost model (one of ``DRAM_TECHNOLOGIES``).
    dram_efficiency : sustained / peak DRAM bandwidth (``sim._dram``: calibrated per technology
        for the presets that resemble real machines; 1 is the ideal port).
    array_double_buffer : WS arrays preload the next fold's weights while the current one
        streams (``hw.arrays.tile_cycles(double_buffer=True)``, the RTL's option).
    array_chain : WS arrays chain tiles (the RTL's ``chain``, with ``array_double_buffer``): a
        tile's preloaded weights take effect with the advancing wave of its rows, so the next
        tile streams while the previous drains; the steps of an op are charged their intervals
        (``hw.arrays.chained_tile_cycles``) and the op once the run's load, fill and drain
        (``hw.arrays.chain_tail_cycles``).
    chips, link_gbps, link_latency_ns : chips in tensor parallel (``sim._chips``) and the link
        between them (GB/s per direction, latency per transfer; the defaults are NVLink3 as
        LLMCompass's configs/GA100.json describes it: 12 links x 25 GB/s, 8.92 us).
    cores : cores, each with this array, these SRAM buffers, DMA engines and vector unit, sharing
        the DRAM (``sim._cores``: ops split across cores, transfers contend on one DRAM port).
    gb_kib, gb_gbps : the global buffer shared by the cores (KiB; 0: none) and its bandwidth to
        them (GB/s, one port all cores contend on): GEMM operands are read from DRAM into it
        once and the cores' tile loads are served from it (``sim._global_buffer``).
    fusion : fuse attention, hand accumulator outputs to the row function that follows, and keep
        activations in SRAM for their consumer where they fit (``sim._fusion``); False runs every
        op through DRAM (the default, and the presets edge-16x16, default-32x32, hbm-128x128).
    overlap : chain the ops of a layer (``sim._overlap``): the next op's weight loads prefetch
        into free SRAM while the current op computes, and the array and the vector unit run
        different ops at once where the data dependencies allow; False runs each op alone from
        an empty pipeline to its last store (``[schedule] overlap``; default True).
    dma_engines : concurrent DMA transfers.
    vector_lanes : elements per cycle of the vector unit for elementwise ops (add, RoPE,
        embedding rows, KV append).
    row_units : instances of each shift-add row unit working on different rows in parallel.
    nonlinear_units : (function, unit) pairs: which ``hw.units.nonlinear`` unit runs each row
        function; a dict view is ``nonlinear_unit_map``.
    nonlinear_x_bits : input width of the LayerNorm unit (bits).
    divider_bits_per_cycle : quotient bits per cycle of the units' iterative dividers.

    Raises
    ------
    HardwareConfigError
        On construction (also through ``dataclasses.replace``) if a field breaks its rule.
    """

    name: str = "default-32x32"
    clock_mhz: float = 1000.0
    array_rows: int = 32
    array_cols: int = 32
    dataflows: tuple[str, ...] = ("ws", "os", "gemv")
    array_area_mm2: float | None = None
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
    row_units: int = 16
    nonlinear_units: tuple[tuple[str, str], ...] = (("gelu", "ibert_int_gelu"), ("layernorm", "ivit_int_layernorm"),
                                                    ("rmsnorm", "int_rmsnorm"), ("silu_mul", "int_silu"),
                                                    ("softmax", "ivit_shiftmax"))
    nonlinear_x_bits: int = 16
    divider_bits_per_cycle: int = 1
    dram_efficiency: float = 1.0
    cores: int = 1
    fusion: bool = False
    overlap: bool = True
    array_double_buffer: bool = False
    array_chain: bool = False
    chips: int = 1
    link_gbps: float = 300.0
    link_latency_ns: float = 8920.0
    gb_kib: int = 0
    gb_gbps: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.nonlinear_units, dict):
            object.__setattr__(self, "nonlinear_units", tuple(sorted(self.nonlinear_units.items())))
        if isinstance(self.dataflows, list):
            object.__setattr__(self, "dataflows", tuple(self.dataflows))
        values = {f: getattr(self, f) for f in _RULES}
        try:
            _Fields.model_validate(values)
        except ValidationError as exc:
            raise _one_line(exc, values) from None
        v = self.dram_gbps_per_channel
        if v != math.inf and v > 1e5:
            raise HardwareConfigError(f"hardware field dram.gbps_per_channel must be {_RULES['dram_gbps_per_channel']}, "
                                      f"not {v!r}")
        g = self.gb_gbps
        if (self.gb_kib and not g > 0) or math.isnan(g) or (g != math.inf and g > 1e6):
            unset = " (not given)" if self.gb_kib and g == 0.0 else ""
            raise HardwareConfigError(f"hardware field global_buffer.gbps must be {_RULES['gb_gbps']}, not {g!r}{unset}")
        if self.array_chain and not self.array_double_buffer:
            raise HardwareConfigError(f"hardware field array.chain must be {_RULES['array_chain']}, not True "
                                      "(array.double_buffer is false)")
        if not {"ws", "os"} & set(self.dataflows) or len(set(self.dataflows)) != len(self.dataflows):
            raise HardwareConfigError(f"hardware field array.dataflows must be {_RULES['dataflows']}, "
                                      f"not {list(self.dataflows)!r}")
        for fn, unit in self.nonlinear_units:
            ok = units_for(fn)  # the hw registry the simulator times them with (sim._timing)
            if unit not in ok:
                raise HardwareConfigError(f"hardware field nonlinear.{fn} must be one of {ok}, not {unit!r}")

    @property
    def nonlinear_unit_map(self) -> dict[str, str]:
        """Vector function -> nonlinear RTL unit name."""
        return dict(self.nonlinear_units)

    @property
    def dram_peak_bytes_per_cycle(self) -> float:
        """Aggregate peak (wire-rate) DRAM bandwidth in bytes per clock cycle (``inf`` if unlimited)."""
        return self.dram_channels * self.dram_gbps_per_channel * 1e3 / self.clock_mhz

    @property
    def dram_bytes_per_cycle(self) -> float:
        """Sustained DRAM bandwidth the engine's port serves, bytes per clock cycle: the peak
        times ``dram_efficiency`` (``inf`` if unlimited)."""
        return self.dram_peak_bytes_per_cycle * self.dram_efficiency

    def peak_macs_per_cycle(self, packing: int = 1) -> int:
        """MACs per cycle of all cores' arrays (``packing`` products per PE per cycle)."""
        return self.cores * self.array_rows * self.array_cols * packing

    @property
    def gb_bytes_per_cycle(self) -> float:
        """Global buffer -> cores bandwidth in bytes per clock cycle (0 without a global buffer)."""
        return self.gb_gbps * 1e3 / self.clock_mhz if self.gb_kib else 0.0

    @property
    def dram_latency_cycles(self) -> float:
        """DRAM latency in clock cycles."""
        return self.dram_latency_ns * self.clock_mhz / 1e3

    def limits(self) -> MapperLimits:
        """The mapper's view of this hardware."""
        k = 1024
        return MapperLimits(self.array_rows, self.array_cols, self.sram_a_kib * k, self.sram_b_kib * k,
                            self.sram_c_kib * k, self.sram_v_kib * k, self.dram_bytes_per_cycle,
                            tuple(self.dataflows), self.dram_latency_cycles, self.row_units)

    def sized_for(self, pe_area_um2: float, *, converter_area_um2: float = 0.0) -> HardwareConfig:
        """This configuration with a square array of the largest side ``n`` whose area (``n x n``
        PEs of ``pe_area_um2`` + ``n`` column output converters of ``converter_area_um2``, um^2:
        ``hw.cost.largest_square_array``) fits ``array_area_mm2`` (unchanged when no area is
        asked for).

        Raises
        ------
        HardwareConfigError
            If not even one PE fits the area.
        """
        if self.array_area_mm2 is None:
            return self
        if not pe_area_um2 > 0 or not math.isfinite(pe_area_um2):
            raise HardwareConfigError(f"PE area must be a positive number of um2, not {pe_area_um2!r}")
        if not converter_area_um2 >= 0 or not math.isfinite(converter_area_um2):
            raise HardwareConfigError(f"converter area must be a non-negative number of um2, not {converter_area_um2!r}")
        from hw.cost import largest_square_array

        side = largest_square_array(area_um2=self.array_area_mm2 * 1e6, pe_area_um2=pe_area_um2,
                                    converter_area_um2=converter_area_um2)
        if side < 1:
            raise HardwareConfigError(f"hardware field array.area_mm2 must hold at least one PE of "
                                      f"{pe_area_um2:.1f} um2, not {self.array_area_mm2!r}")
        return replace(self, array_rows=min(side, 4096), array_cols=min(side, 4096))

    def describe(self) -> str:
        """Every field on one line (what the simulate output prints)."""
        bw = self.dram_channels * self.dram_gbps_per_channel
        area = f" (sized for {self.array_area_mm2} mm2)" if self.array_area_mm2 is not None else ""
        cores = (f"{self.chips} chips ({self.link_gbps:g} GB/s, {self.link_latency_ns:g} ns link) x "
                 if self.chips > 1 else "") + (f"{self.cores} cores x " if self.cores > 1 else "")
        eff = f" ({self.dram_efficiency:.0%} sustained)" if self.dram_efficiency < 1 else ""
        return (f"hardware {self.name}: {cores}{self.array_rows}x{self.array_cols} array{area} "
                f"[{', '.join(self.dataflows)}] at {self.clock_mhz:g} MHz; SRAM a/b/c/v "
                f"{self.sram_a_kib}/{self.sram_b_kib}/{self.sram_c_kib}/{self.sram_v_kib} KiB; DRAM "
                f"{self.dram_channels} x {self.dram_gbps_per_channel:g} GB/s = {bw:g} GB/s "
                f"{self.dram_technology}{eff}, "
                f"{self.dram_latency_ns:g} ns; "
                + (f"global buffer {self.gb_kib:g} KiB at {self.gb_gbps:g} GB/s; " if self.gb_kib else "")
                + f"{self.dma_engines} DMA; vector {self.vector_lanes} lanes, "
                f"{self.row_units} row units ({', '.join(f'{f}={u}' for f, u in self.nonlinear_units)}), "
                f"x_bits {self.nonlinear_x_bits}, divider {self.divider_bits_per_cycle} bit/cycle"
                + ("" if self.fusion else "; no fusion"))


PRESETS: dict[str, HardwareConfig] = {
    "edge-16x16": HardwareConfig("edge-16x16", 500.0, 16, 16, sram_a_kib=64, sram_b_kib=128, sram_c_kib=32,
                                 sram_v_kib=64, dram_channels=2, dram_gbps_per_channel=12.8, vector_lanes=16,
                                 row_units=4),
    "default-32x32": HardwareConfig(),
    "hbm-128x128": HardwareConfig("hbm-128x128", 1000.0, 128, 128, sram_a_kib=4096, sram_b_kib=8192,
                                  sram_c_kib=2048, sram_v_kib=1024, dram_channels=8, dram_gbps_per_channel=256.0,
                                  dram_latency_ns=120.0, dram_technology="hbm2", dma_engines=4, vector_lanes=128,
                                  row_units=64),
    # Google TPU v1 (Jouppi et al., "In-Datacenter Performance Analysis of a Tensor Processing
    # Unit", ISCA 2017): 256x256 INT8 MACs, 700 MHz, weight-stationary (ws only: no GEMV mode),
    # 24 MiB Unified Buffer (activations), 4 MiB of 32-bit accumulators, weights from 8 GiB of
    # DDR3 at 34 GB/s (2 x 17 GB/s here) through a weight FIFO four 64 KiB tiles deep (256 KiB);
    # the matrix unit holds one weight tile plus one for double buffering (array_double_buffer),
    # and a tile's weights "take effect with the advancing wave" (its section 2), so tiles follow
    # each other without the pipeline emptying (array_chain: the RTL's chained tiles).
    # Assumed (not in the paper's figures): 100 ns DRAM latency, a 256-lane vector unit and 256
    # row units (the paper's activation pipeline is 256 wide), 4 DMA engines, a 1 MiB vector buffer. The cost model has
    # no DDR3 entry: energy from its lpddr4 entry, sustained bandwidth from sim._dram's ddr4.
    "tpuv1": HardwareConfig("tpuv1", 700.0, 256, 256, dataflows=("ws",), sram_a_kib=24 * 1024, sram_b_kib=256,
                            sram_c_kib=4 * 1024, sram_v_kib=1024, dram_channels=2, dram_gbps_per_channel=17.0,
                            dram_latency_ns=100.0, dram_technology="lpddr4", dram_efficiency=sustained_fraction("ddr4"),
                            dma_engines=4, vector_lanes=256, row_units=256, fusion=True,
                            array_double_buffer=True, array_chain=True),
    # Edge NPU after the Coral Edge TPU: 4 TOPS INT8 (coral.ai datasheet) from a 64x64 systolic
    # array (Yazdanbakhsh et al., "An Evaluation of Edge TPU Accelerators for Convolutional
    # Neural Networks", arXiv:2102.10423, 2021) -> 4e12 / (2 x 4096) = 488 MHz, 480 MHz here;
    # about 8 MB of on-chip SRAM for parameters (Coral compiler documentation); LPDDR4 of the
    # Dev Board, one 32-bit 3200 MT/s channel = 12.8 GB/s. Assumed: the split of the SRAM
    # (6 MiB weights, 1 MiB activations, 512 KiB accumulators and vector), the vector unit. The
    # 64x64 array and ~8 MB figures were recalled, not re-checked against these sources.
    "edge-npu": HardwareConfig("edge-npu", 480.0, 64, 64, sram_a_kib=1024, sram_b_kib=6 * 1024, sram_c_kib=512,
                               sram_v_kib=512, dram_channels=1, dram_gbps_per_channel=12.8, dram_latency_ns=120.0,
                               dram_technology="lpddr4", dram_efficiency=sustained_fraction("lpddr4"),
                               vector_lanes=64, row_units=16, fusion=True),
    # Multi-core datacenter NPU after TPU v4 (Jouppi et al., "TPU v4: An Optically Reconfigurable
    # Supercomputer for Machine Learning...", ISCA 2023): 2 TensorCores x 4 MXUs of 128x128 at
    # 1050 MHz (275 TFLOPS BF16), 32 GiB HBM2 at 1200 GB/s, 16 MiB VMEM per TensorCore. Here one
    # core per MXU (8 cores of 128x128, 4 MiB of local SRAM each); the 128 MiB CMEM as the global
    # buffer. Assumed: latency, DMA engines, vector unit, the SRAM split, the CMEM bandwidth (not
    # found in a source at hand: 2048 bytes per cycle = 2150.4 GB/s, one 128-byte INT8 row of A
    # and one of B per core per cycle). The TPU v4 figures (CMEM size included) were recalled, not
    # re-checked against the paper.
    "npu-8core": HardwareConfig("npu-8core", 1050.0, 128, 128, sram_a_kib=1024, sram_b_kib=2048, sram_c_kib=512,
                                sram_v_kib=512, dram_channels=8, dram_gbps_per_channel=150.0, dram_latency_ns=120.0,
                                dram_technology="hbm2", dram_efficiency=sustained_fraction("hbm2"), dma_engines=4,
                                vector_lanes=128, row_units=32, cores=8, fusion=True, gb_kib=128 * 1024,
                                gb_gbps=2048 * 1.05),
    # A100-like, as LLMCompass (Zhang et al., "LLMCompass: Enabling Efficient Hardware Design for
    # Large Language Model Inference", ISCA 2024) describes it in its repository
    # (PrincetonUniversity/LLMCompass: hardware_model/compute_module.py "A100_fp16", configs/GA100.json):
    # 108 cores of 4 lanes with a 16x16 FP16 systolic array each (1024 MACs per core per cycle ->
    # one 32x32 array here), 192 KiB SRAM per core, 1.41 GHz, HBM2e with 5 active channels of
    # 1024 pins at 3.2 Gb/s (5 x 409.6 GB/s), and the 40 MiB L2 as the global buffer: 40 * 1024**2
    # bytes at 5120 bytes per cycle (compute_module.py "A100_fp16": l2_size, l2_bandwidth_per_cycle;
    # configs/GA100.json gives the same 5120 B/cycle for its 48 MB GA100 die) = 7219.2 GB/s.
    # Assumed: the split of the 192 KiB (a/b/c/v 48/48/32/64: the vector buffer holds two rows of
    # LLaMA-2-70B), the DRAM latency, DMA engines, the vector unit.
    "a100-like": HardwareConfig("a100-like", 1410.0, 32, 32, sram_a_kib=48, sram_b_kib=48, sram_c_kib=32,
                                sram_v_kib=64, dram_channels=5, dram_gbps_per_channel=409.6, dram_latency_ns=400.0,
                                dram_technology="hbm2", dram_efficiency=sustained_fraction("hbm2e"), dma_engines=2,
                                vector_lanes=32, row_units=4, cores=108, fusion=True, gb_kib=40 * 1024,
                                gb_gbps=5120 * 1.41),
}
DEFAULT_PRESET = "default-32x32"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _section_model(keys: dict[str, str]) -> type[BaseModel]:
    from pydantic import create_model

    return create_model("_Sec", __base__=_Section, **{k: (object, None) for k in keys})


_SECTION_MODELS = {sec: _section_model(keys) for sec, keys in _SECTIONS.items()}


class _Document(BaseModel):
    """The TOML document: known sections and keys only (values are checked by ``_Fields``)."""

    model_config = ConfigDict(extra="forbid")
    preset: object = None
    name: object = None
    clock_mhz: object = None
    cores: object = None
    array: _SECTION_MODELS["array"] | None = None
    sram: _SECTION_MODELS["sram"] | None = None
    dram: _SECTION_MODELS["dram"] | None = None
    dma: _SECTION_MODELS["dma"] | None = None
    schedule: _SECTION_MODELS["schedule"] | None = None
    chips: _SECTION_MODELS["chips"] | None = None
    global_buffer: _SECTION_MODELS["global_buffer"] | None = None
    vector: _SECTION_MODELS["vector"] | None = None
    nonlinear: dict[str, object] | None = None


def _document_error(exc: ValidationError, data: dict, source: str) -> HardwareConfigError:
    err = exc.errors()[0]
    loc = [str(x) for x in err["loc"] if not str(x).startswith("_Sec")]
    if err["type"] == "extra_forbidden" and len(loc) == 1:
        return HardwareConfigError(f"hardware field {loc[0]} must be one of preset, name, clock_mhz, cores, "
                                   f"[{'], ['.join(_SECTIONS)}], [nonlinear] ({source}), not unknown")
    if err["type"] == "extra_forbidden":
        sec = loc[0]
        return HardwareConfigError(f"hardware field {sec}.{loc[1]} must be one of "
                                   f"{', '.join(sec + '.' + s for s in _SECTIONS[sec])} ({source}), not unknown")
    return HardwareConfigError(f"hardware field [{loc[0]}] must be a table ({source}), not {data.get(loc[0])!r}")


def hardware_from_dict(data: dict, *, source: str = "hardware") -> HardwareConfig:
    """Build a ``HardwareConfig`` from a parsed TOML document (see the module docstring).

    Raises
    ------
    HardwareConfigError
        Unknown preset, section or key, or a value breaking its rule (named in the message).
    """
    try:
        _Document.model_validate(data)
    except ValidationError as exc:
        raise _document_error(exc, data, source) from None
    p = data.get("preset", DEFAULT_PRESET)
    if not isinstance(p, str) or p not in PRESETS:
        raise HardwareConfigError(f"hardware field preset must be one of {', '.join(PRESETS)} ({source}), not {p!r}")
    base = PRESETS[p]
    kw: dict = {}
    for key, val in data.items():
        if key in _TOP:
            kw[_TOP[key]] = val
        elif key == "nonlinear":
            kw["nonlinear_units"] = {**base.nonlinear_unit_map, **val}
        elif key in _SECTIONS:
            for sub, v in val.items():
                kw[_SECTIONS[key][sub]] = tuple(v) if sub == "dataflows" and isinstance(v, list) else v
    if "area_mm2" in data.get("array", {}) and {"rows", "cols"} & set(data["array"]):
        raise HardwareConfigError(f"hardware field array.area_mm2 must come without array.rows/cols (it sizes the "
                                  f"array) ({source}), not {data['array']['area_mm2']!r}")
    gb = data.get("global_buffer", {})
    if "gbps" in gb and "kib" not in gb:  # a bandwidth alone would be ignored without a buffer, kept with one
        raise HardwareConfigError(f"hardware field global_buffer.gbps must come with global_buffer.kib (the buffer's "
                                  f"size; kib = 0 switches the buffer off) ({source}), not {gb['gbps']!r}")
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
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise HardwareConfigError(f"hardware path must be a readable file, not {str(path)!r} ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise HardwareConfigError(f"hardware file {str(path)!r} must be UTF-8 text, not binary") from None
        except tomllib.TOMLDecodeError as exc:
            raise HardwareConfigError(f"hardware file {str(path)!r} must be valid TOML, not ({exc})") from None
        return hardware_from_dict(data, source=str(path))
    if spec not in PRESETS:
        raise HardwareConfigError(f"hardware must be a preset ({', '.join(PRESETS)}) or a .toml path, not {spec!r}")
    return PRESETS[spec]


