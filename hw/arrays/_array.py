"""The systolic MAC array: an R x C grid of PEs (``hw.units.MacPe``, submodules ``pe_<i>_<j>``:
the very component ``hw.units.build_pe`` builds and ``hw.cost`` prices) with input skew, weight
preload, output drain and a tile-level command interface, the dataflow a parameter; one
``hw.units.OutputConverter`` per column (``out_convert_<j>``) rounds the accumulators.

Dataflows
---------
* ``"ws"`` (weight-stationary): a ``k x n`` block of B (k <= rows, n <= cols) is pushed down
  the columns (one row of B per cycle, last row first) into the PEs' weight registers; rows of
  A (k lanes) then stream in from the left, one per cycle, skewed one cycle per array row;
  partial sums flow down the columns (registered in every PE), enter at the top from the
  ``a_psum`` input (the previous K fold's accumulators, or the empty sum) and leave at the bottom, are
  de-skewed, rounded by one ``OutputConverter`` per column and presented as one output row per
  cycle. Rows ``>= k`` of the array pass partial sums through unchanged.
* ``"os"`` (output-stationary): an ``m x n`` block of C (m <= rows, n <= cols) is pinned in the
  PEs' accumulators; each cycle one column of A (rows lanes) enters from the left and one row
  of B (cols lanes) from the top, skewed; a ``first`` flag travelling with A restarts the
  accumulators. When PE(m-1, n-1) has its last product, the accumulators shift up (one row per
  cycle, m rows) through the edge rounders at the top.

Tile interface (both dataflows; see ``_timing`` for the cycle counts)
----------------------------------------------------------------------
* command: ``start`` with ``tile_m``, ``tile_k``, ``tile_n`` (sampled while ``busy`` is low);
  ``busy`` high from the next cycle until the cycle after ``done``; ``done`` is high for one
  cycle, together with the last output row.
* operand feeders (first-word-fall-through buffers, read in the same cycle): while ``a_req`` is
  high the array samples ``a_data`` (``rows`` lanes: WS the row ``a_index`` of A, lanes 0..k-1;
  OS the column ``a_index`` of A, lanes 0..m-1) and, WS only, ``a_psum`` (``cols`` accumulator
  values of output row ``a_index``); while ``b_req`` is high it samples ``b_data`` (``cols``
  lanes: the row ``b_index`` of B). Unused lanes may hold anything finite (zeros).
* weight double buffering (WS, ``double_buffer=True``): ``pre``/``pre_k`` sampled with
  ``start`` ask the array to load the *next* tile's ``pre_k`` rows of B into a shadow weight
  chain while this tile streams (``b_req`` with ``b_next`` high; ``b_index`` then indexes the
  next tile's B). The next ``start`` copies the shadow into the PEs' weights and skips the load.
  The prefetch takes at most ``rows`` cycles and a tile streams and drains for at least
  ``rows + cols + 2``, so it never stalls.
* chained tiles (WS, ``chain=True``, with ``double_buffer``): the weights a tile finds
  preloaded in the shadow take effect with the advancing wave of its first row of A (PE(i, j)
  copies its shadow weight, and the row's lane enables, in the cycle before that row reaches
  it), so the next tile's rows of A follow this tile's without the pipeline emptying: ``busy``
  goes low (``start`` may be sampled) in this tile's last streaming cycle at the earliest, when
  the next tile's weights are in the shadow and at least ``rows + cols + 2 (+1 with the PE
  product register)`` cycles have passed since this tile's first row of A (so a K fold's
  partial sums, ``c_acc``, leave the array before the next fold reads them as ``a_psum``). The
  shadow is refilled only after the wave has passed every PE (from ``rows + cols - 1``
  cycles after the first row). Outputs of consecutive tiles follow each other; ``done`` marks each tile's
  last output row. A tile whose weights are not preloaded (``LOAD``) waits until the array is
  empty. This is how TPU v1's matrix unit overlaps weight tiles (Jouppi et al. 2017: weights
  "take effect with the advancing wave").
* outputs: while ``c_valid`` is high, ``c_data`` holds the output codes of row ``c_index``
  (lanes 0..n-1) and, WS only, ``c_acc`` the unrounded accumulators (the next K fold's
  ``a_psum``).
"""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Shape, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..errors import UnitConfigError
from ..formats import check_int
from ..units import MAX_REDUCTION, MacFormats, MacPe, OutputConverter
from ._timing import DATAFLOWS, tile_cycles

__all__ = ["SystolicArray", "MAX_ARRAY_DIM", "MAX_STREAM"]

#: largest rows / cols of a generated array
MAX_ARRAY_DIM = 256
#: largest streamed dimension of a tile (WS max_m, OS max_k)
MAX_STREAM = MAX_REDUCTION


class SystolicArray(wiring.Component):
    """R x C systolic MAC array (see the module docstring for dataflows and ports).

    Parameters (keyword-only)
    -------------------------
    rows, cols : PEs (1 .. ``MAX_ARRAY_DIM`` each).
    dataflow : "ws" or "os".
    a_format, b_format : operand formats (names or descriptors): integer, minifloat, lookup,
        or both block formats with power-of-two scales (MX).
    acc : "exact" or an IEEE float format ("float32", "float16", "bfloat16").
    out_format : output format; default int32 for integer operands with exact accumulation,
        float32 otherwise.
    max_m : WS: longest A stream of one tile (output rows). OS: ignored (m <= rows).
    max_k : longest reduction the exact accumulator must hold (all K folds of a WS GEMM; one
        tile's K for OS); also the OS tile's K limit.
    double_buffer : WS only: shadow weight registers so the next tile's weights load while
        this tile computes.
    chain : WS only, with ``double_buffer``: chained tiles (the next tile streams right after
        this one, its preloaded weights switched with the advancing wave; see the module
        docstring).
    pipeline : 0 or 1: a register after each PE's product (1 cycle more per tile, a shorter
        critical path).
    formats : a ``hw.units.MacFormats`` instead of ``a_format``, ``b_format``, ``acc``,
        ``out_format`` and ``max_k`` (the array's ``max_k`` is then ``formats.max_k``).
    packing : products per PE per cycle: None (default) for the formats' packing
        (``MacFormats.packing``: INT8 x INT8 1, INT4 x INT8 / FP4 x FP8 2, INT4 x INT4 /
        FP4 x FP4 4), or 1 for unpacked PEs. Every operand lane then carries ``packing``
        consecutive K elements (element p of a lane is K index ``lane * packing + p`` of a WS
        tile, ``index * packing + p`` of an OS stream); ``b_index`` (and OS ``a_index``) count
        packed rows (columns).

    Raises
    ------
    UnitConfigError
        For parameters out of range or a format combination the PEs cannot take.
    """

    def __init__(self, *, rows: int, cols: int, dataflow: str = "ws", a_format="int8", b_format="int8",
                 acc="exact", out_format=None, max_m: int = 4096, max_k: int = 4096,
                 double_buffer: bool = False, pipeline: int = 0, formats: MacFormats | None = None,
                 packing: int | None = None, chain: bool = False) -> None:
        if formats is not None:
            if not isinstance(formats, MacFormats):
                raise UnitConfigError(f"formats must be a MacFormats, not {formats!r}")
            max_k = formats.max_k
        self._rows = check_int("rows", rows, 1, MAX_ARRAY_DIM, error=UnitConfigError)
        self._cols = check_int("cols", cols, 1, MAX_ARRAY_DIM, error=UnitConfigError)
        if dataflow not in DATAFLOWS:
            raise UnitConfigError(f"dataflow must be one of 'ws', 'os', not {dataflow!r}")
        self._dataflow = dataflow
        self._max_m = check_int("max_m", max_m, 1, MAX_STREAM, error=UnitConfigError)
        self._max_k = check_int("max_k", max_k, 1, MAX_STREAM, error=UnitConfigError)
        if not isinstance(double_buffer, bool):
            raise UnitConfigError(f"double_buffer must be a bool, not {double_buffer!r}")
        if double_buffer and dataflow != "ws":
            raise UnitConfigError(f"double_buffer must be False for dataflow {dataflow!r} (only WS preloads weights)")
        self._double_buffer = double_buffer
        if not isinstance(chain, bool):
            raise UnitConfigError(f"chain must be a bool, not {chain!r}")
        if chain and not double_buffer:
            raise UnitConfigError("chain must be False without double_buffer (chained tiles take their weights "
                                  "from the shadow)")
        self._chain = chain
        if pipeline not in (0, 1) or isinstance(pipeline, bool):
            raise UnitConfigError(f"pipeline must be 0 or 1, not {pipeline!r}")
        self._pipeline = pipeline
        self._f = f = formats if formats is not None else MacFormats(
            a_format=a_format, b_format=b_format, acc=acc, out_format=out_format, max_k=max_k)
        if packing is None:
            packing = f.packing
        f.check_packing(packing)
        self._packing = packing
        R, C = self._rows, self._cols
        lm, lk, ln = self.limits
        kp = -(-lk // packing)  # packed rows (WS) / stream steps (OS) of the longest tile
        ports = {
            "start": In(1), "tile_m": In(range(lm + 1)), "tile_k": In(range(lk + 1)), "tile_n": In(range(ln + 1)),
            "busy": Out(1), "done": Out(1),
            "a_req": Out(1), "a_index": Out(range(max(lm, kp))),
            "a_data": In(data.ArrayLayout(self.lane_layout("a"), R)),
            "b_req": Out(1), "b_index": Out(range(kp)),
            "b_data": In(data.ArrayLayout(self.lane_layout("b"), C)),
            "c_valid": Out(1), "c_index": Out(range(lm)),
            "c_data": Out(data.ArrayLayout(f.out_format.bits, C)),
        }
        if dataflow == "ws":
            ports["a_psum"] = In(data.ArrayLayout(f.acc_layout(), C))
            ports["c_acc"] = Out(data.ArrayLayout(f.acc_layout(), C))
        if double_buffer:
            ports["pre"] = In(1)
            ports["pre_k"] = In(range(lk + 1))
            ports["b_next"] = Out(1)
        super().__init__(ports)

    # ---- read-only parameters -----------------------------------------------------------
    rows = property(lambda self: self._rows)
    cols = property(lambda self: self._cols)
    dataflow = property(lambda self: self._dataflow)
    max_m = property(lambda self: self._max_m)
    max_k = property(lambda self: self._max_k)
    double_buffer = property(lambda self: self._double_buffer)
    chain = property(lambda self: self._chain)
    pipeline = property(lambda self: self._pipeline)
    formats = property(lambda self: self._f)

    @property
    def packing(self) -> int:
        """Products per PE per cycle (K elements per operand lane)."""
        return self._packing

    def lane_layout(self, which: str):
        """Layout of one operand lane of ``a_data``/``b_data`` (``which`` "a" or "b"): the
        element lane of the formats, or ``packing`` of them."""
        lane = self._f.lane(which)
        return lane if self._packing == 1 else data.ArrayLayout(lane, self._packing)

    @property
    def limits(self) -> tuple[int, int, int]:
        """Largest (m, k, n) of one tile."""
        if self._dataflow == "ws":
            return self._max_m, self._rows * self._packing, self._cols
        return self._rows, self._max_k, self._cols

    def check_tile(self, *, m: int, k: int, n: int) -> None:
        """Raise ``UnitConfigError`` unless ``1 <= m, k, n <= limits``."""
        rows = "rows" if self._packing == 1 else "rows x packing"
        names = ("max_m", rows, "cols") if self._dataflow == "ws" else ("rows", "max_k", "cols")
        for what, v, lim, name in zip("mkn", (m, k, n), self.limits, names):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UnitConfigError(f"tile {what} must be a positive integer, not {v!r}")
            if v > lim:
                raise UnitConfigError(f"tile {what} must be at most {lim} (the array's {name}) for dataflow "
                                      f"{self._dataflow!r}, not {v!r}")

    def tile_cycles(self, *, m: int, k: int, n: int) -> int:
        """Cycles of one tile (``tile_cycles(...).total`` for a tile within the limits)."""
        self.check_tile(m=m, k=k, n=n)
        return tile_cycles(rows=self._rows, cols=self._cols, dataflow=self._dataflow, m=m, k=k, n=n,
                           pe_pipeline=self._pipeline, packing=self._packing).total

    def metadata(self) -> dict:
        """Parameters, widths and timing facts, for the JSON exported next to the Verilog."""
        lm, lk, ln = self.limits
        f = self._f

        def bits(layout) -> int:
            return data.Layout.cast(layout).size if isinstance(layout, data.Layout) else layout.width

        return {"unit": "array", "rows": self._rows, "cols": self._cols, "dataflow": self._dataflow,
                "max_m": self._max_m, "max_k": self._max_k, "double_buffer": self._double_buffer,
                "chain": self._chain,
                "pipeline": self._pipeline, "packing": self._packing, "tile_limits": {"m": lm, "k": lk, "n": ln},
                **f.describe(), "block": f.block,
                "lane_bits": {"a": bits(self.lane_layout("a")), "b": bits(self.lane_layout("b"))},
                "acc_bits": bits(f.acc_layout()), "timing": "hw.arrays.tile_cycles"}

    # ---- hardware ------------------------------------------------------------------------
    def elaborate(self, platform) -> Module:
        m = Module()
        if self._dataflow == "ws":
            self._elaborate_ws(m)
        else:
            self._elaborate_os(m)
        return m

    def _pe(self, m: Module, i: int, j: int) -> MacPe:
        pe = MacPe(self._f, lanes=self._packing, pipeline=self._pipeline)
        m.submodules[f"pe_{i}_{j}"] = pe
        return pe

    @staticmethod
    def _delay(m: Module, value, shape, depth: int, name: str):
        """``value`` delayed by ``depth`` registers (depth >= 1)."""
        prev = value
        for d in range(depth):
            r = Signal(shape, name=f"{name}_d{d}")
            m.d.sync += r.eq(prev)
            prev = r
        return prev

    def _edge(self, m: Module, j: int) -> OutputConverter:
        er = OutputConverter(self._f)
        m.submodules[f"out_convert_{j}"] = er
        return er

    def _packed(self, m: Module, k, name: str) -> Signal:
        """``ceil(k / packing)``: packed rows (WS) or stream steps (OS) of ``k`` K elements."""
        Q = self._packing
        kp = Signal(range((1 << len(k)) // Q + 2), name=name)
        m.d.comb += kp.eq((k + (Q - 1)) >> (Q.bit_length() - 1))
        return kp

    def _lane_enables(self, first_k, tk) -> Value:
        """Enables of one PE's ``packing`` lanes: lane p is on iff ``first_k + p < tk``."""
        return Cat(*[(first_k + p) < tk for p in range(self._packing)])

    def _elaborate_ws(self, m: Module) -> None:
        R, C, f = self._rows, self._cols, self._f
        lane_a, lane_b, accl = self.lane_layout("a"), self.lane_layout("b"), f.acc_layout()
        tm, tk, tn = (Signal.like(self.tile_m, name="m_r"), Signal.like(self.tile_k, name="k_r"),
                      Signal.like(self.tile_n, name="n_r"))
        tkp = self._packed(m, tk, "kp_r")
        cnt = Signal(range(max(self._max_m, R) + 1))
        # weights: w[i][j], pushed down the columns while loading
        w = [[Signal(lane_b, name=f"w_{i}_{j}") for j in range(C)] for i in range(R)]
        load = Signal()
        with m.If(load):
            for j in range(C):
                m.d.sync += w[0][j].eq(self.b_data[j])
                for i in range(1, R):
                    m.d.sync += w[i][j].eq(w[i - 1][j])
        db = self._double_buffer
        if db:
            # w is the shadow (load) chain; the PEs use `active`, copied from it when a tile starts
            active = [[Signal(lane_b, name=f"wa_{i}_{j}") for j in range(C)] for i in range(R)]
            copy, copy_shifted = Signal(), Signal()
            with m.If(copy):  # shadow complete: take it as is
                m.d.sync += [active[i][j].eq(w[i][j]) for i in range(R) for j in range(C)]
            with m.If(copy_shifted):  # last cycle of a direct load: take the chain's next state
                m.d.sync += [active[i][j].eq(self.b_data[j] if i == 0 else w[i - 1][j])
                             for i in range(R) for j in range(C)]
            pre_r, pk = Signal(), Signal.like(self.pre_k, name="pre_k_r")
            pkp = self._packed(m, pk, "pre_kp_r")
            pf, pcnt, shadow_full = Signal(), Signal(range(R + 1)), Signal()
            with m.If(pf):  # prefetch of the next tile's weights while this tile streams
                m.d.comb += [self.b_req.eq(1), self.b_next.eq(1), self.b_index.eq(pkp - 1 - pcnt), load.eq(1)]
                m.d.sync += pcnt.eq(pcnt + 1)
                with m.If(pcnt == pkp - 1):
                    m.d.sync += [pf.eq(0), pcnt.eq(0), shadow_full.eq(1)]
        else:
            active = w
        # output token: (valid, index, last) delayed by the pipeline latency L = R + C + 1 (+1
        # with the PE product register)
        P = self._pipeline
        L = R + C + 1 + P
        tok_v, tok_i, tok_l = Signal(), Signal(range(self._max_m)), Signal()
        out_v = self._delay(m, tok_v, 1, L, "tok_v")
        out_i = self._delay(m, tok_i, range(self._max_m), L, "tok_i")
        out_l = self._delay(m, tok_l, 1, L, "tok_l")
        m.d.comb += [self.c_valid.eq(out_v), self.c_index.eq(out_i), self.done.eq(out_v & out_l)]
        chain = self._chain
        if chain:
            # chained tiles: `wave` marks a tile's first streaming cycle when its weights come from
            # the shadow; PE(i, j) copies them i + j cycles later (`sw`), just before the tile's
            # first row of A reaches it. `since`: cycles since the last tile's first row of A
            # (saturating); `inflight`: tiles started and not done; `wave_pre`: the prefetch of
            # the next tile's weights waits until the wave has passed every PE.
            G = L + 1  # least cycles between first rows: a K fold's partial sums leave first
            since = Signal(range(G + 1), name="since", init=G)
            m.d.sync += since.eq(Mux(since == G, G, since + 1))
            inflight = Signal(range(4), name="inflight")
            wave, wave_pre = Signal(name="wave"), Signal(name="wave_pre")
            sw = [wave]
            for d in range(1, R + C - 1):
                r = Signal(name=f"sw_d{d}")
                m.d.sync += r.eq(sw[-1])
                sw.append(r)
            with m.If(wave_pre & (since == R + C - 2)):
                m.d.sync += [pf.eq(1), wave_pre.eq(0)]
            ready_chain = shadow_full & (since >= G - 1)
            ready_load = (inflight == 0) & ~(pre_r & ~shadow_full) & ~pf
            accepted = Signal()
            m.d.sync += inflight.eq(inflight + accepted - self.done)

            def take(m):
                """``start`` sampled: latch the tile; weights from the shadow (wave) or loaded."""
                m.d.comb += accepted.eq(1)
                m.d.sync += [tm.eq(self.tile_m), tk.eq(self.tile_k), tn.eq(self.tile_n), cnt.eq(0),
                             pre_r.eq(self.pre), pk.eq(self.pre_k)]
                with m.If(ready_chain):
                    m.d.sync += [wave.eq(1), wave_pre.eq(self.pre), shadow_full.eq(0), since.eq(0)]
                    m.next = "STREAM"
                with m.Else():
                    m.next = "LOAD"

            m.d.sync += wave.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                if chain:
                    m.d.comb += self.busy.eq(~(ready_chain | ready_load))
                    with m.If(self.start & (ready_chain | ready_load)):
                        take(m)
                else:
                    with m.If(self.start):
                        m.d.sync += [tm.eq(self.tile_m), tk.eq(self.tile_k), tn.eq(self.tile_n), cnt.eq(0)]
                        if db:
                            m.d.sync += [pre_r.eq(self.pre), pk.eq(self.pre_k)]
                            with m.If(shadow_full):
                                m.d.comb += copy.eq(1)
                                m.d.sync += [shadow_full.eq(0), pf.eq(self.pre)]
                                m.next = "STREAM"
                            with m.Else():
                                m.next = "LOAD"
                        else:
                            m.next = "LOAD"
            with m.State("LOAD"):
                m.d.comb += [self.busy.eq(1), self.b_req.eq(1), self.b_index.eq(tkp - 1 - cnt), load.eq(1)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == tkp - 1):
                    m.d.sync += cnt.eq(0)
                    if db:
                        m.d.comb += copy_shifted.eq(1)
                        m.d.sync += pf.eq(pre_r)
                    if chain:
                        m.d.sync += since.eq(0)
                    m.next = "STREAM"
            with m.State("STREAM"):
                last = cnt == tm - 1
                m.d.comb += [self.a_req.eq(1), self.a_index.eq(cnt),
                             tok_v.eq(1), tok_i.eq(cnt), tok_l.eq(last)]
                m.d.sync += cnt.eq(cnt + 1)
                if chain:
                    m.d.comb += self.busy.eq(~(last & ready_chain))
                    with m.If(last):
                        m.d.sync += cnt.eq(0)
                        m.next = "IDLE"
                        with m.If(self.start & ready_chain):
                            take(m)
                else:
                    m.d.comb += self.busy.eq(1)
                    with m.If(last):
                        m.d.sync += cnt.eq(0)
                        m.next = "WAIT"
            if not chain:
                with m.State("WAIT"):
                    m.d.comb += self.busy.eq(1)
                    with m.If(self.done):
                        m.next = "IDLE"
        # activations: row i skewed by 1 + i registers, then one register per PE to the right
        a_in = [[None] * C for _ in range(R)]
        for i in range(R):
            a_in[i][0] = self._delay(m, self.a_data[i], lane_a, 1 + i, f"a_skew{i}")
            for j in range(1, C):
                a_in[i][j] = self._delay(m, a_in[i][j - 1], lane_a, 1, f"a_{i}_{j}")
        # partial sums: column j's input skewed by 1 + j (+1 with the PE product register)
        # registers, one register per PE down
        ps_top = [self._delay(m, self.a_psum[j], accl, 1 + j + P, f"psum_skew{j}") for j in range(C)]
        row_en = [Signal(self._packing, name=f"row_en{i}") for i in range(R)]
        for i in range(R):
            m.d.comb += row_en[i].eq(self._lane_enables(i * self._packing, tk))
        if chain:
            # each PE's lane enables travel with its weights: two tiles may be in the array at once
            pe_en = [[Signal(self._packing, name=f"en_{i}_{j}") for j in range(C)] for i in range(R)]
            for i in range(R):
                for j in range(C):
                    with m.If(sw[i + j]):
                        m.d.sync += [active[i][j].eq(w[i][j]), pe_en[i][j].eq(row_en[i])]
                    with m.If(copy_shifted):
                        m.d.sync += pe_en[i][j].eq(row_en[i])
        else:
            pe_en = [[row_en[i]] * C for i in range(R)]
        bottom = []
        for j in range(C):
            ps = ps_top[j]
            for i in range(R):
                pe = self._pe(m, i, j)
                m.d.comb += [pe.a.eq(a_in[i][j]), pe.b.eq(active[i][j]), pe.acc_in.eq(ps), pe.en.eq(pe_en[i][j])]
                ps = Signal(accl, name=f"ps_{i}_{j}")
                m.d.sync += ps.eq(pe.acc_out)
            bottom.append(ps)
        # de-skew: column j delayed by C - 1 - j, then rounded and registered
        for j in range(C):
            v = self._delay(m, bottom[j], accl, C - 1 - j, f"deskew{j}") if C - 1 - j else bottom[j]
            er = self._edge(m, j)
            m.d.comb += er.acc.eq(v)
            m.d.sync += [self.c_data[j].eq(er.code), self.c_acc[j].eq(v)]

    def _elaborate_os(self, m: Module) -> None:
        R, C, f, Q = self._rows, self._cols, self._f, self._packing
        lane_a, lane_b, accl = self.lane_layout("a"), self.lane_layout("b"), f.acc_layout()
        tm, tk, tn = (Signal.like(self.tile_m, name="m_r"), Signal.like(self.tile_k, name="k_r"),
                      Signal.like(self.tile_n, name="n_r"))
        tkp = self._packed(m, tk, "kp_r")
        cnt = Signal(range(max(self._max_k, R + C) + 1))
        first, valid, drain = Signal(), Signal(Q), Signal()
        out_v, out_l = Signal(), Signal()
        m.d.comb += [self.c_valid.eq(out_v), self.done.eq(out_v & out_l)]
        m.d.sync += [out_v.eq(0), out_l.eq(0)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [tm.eq(self.tile_m), tk.eq(self.tile_k), tn.eq(self.tile_n), cnt.eq(0)]
                    m.next = "STREAM"
            with m.State("STREAM"):
                m.d.comb += [self.busy.eq(1), self.a_req.eq(1), self.b_req.eq(1), self.a_index.eq(cnt),
                             self.b_index.eq(cnt), valid.eq(self._lane_enables(cnt * Q, tk)),
                             first.eq(cnt == 0)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == tkp - 1):
                    m.d.sync += cnt.eq(0)
                    m.next = "SETTLE"
            with m.State("SETTLE"):
                # until PE(m-1, n-1) holds its final sum: m + n - 1 cycles (+1 with the PE
                # product register)
                m.d.comb += self.busy.eq(1)
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt == tm + tn - 2 + self._pipeline):
                    m.d.sync += cnt.eq(0)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += [self.busy.eq(1), drain.eq(1)]
                m.d.sync += [cnt.eq(cnt + 1), out_v.eq(1), self.c_index.eq(cnt), out_l.eq(cnt == tm - 1)]
                with m.If(cnt == tm - 1):
                    m.d.sync += cnt.eq(0)
                    m.next = "LAST"
            with m.State("LAST"):
                m.d.comb += self.busy.eq(1)
                m.next = "IDLE"
        # operands and the (valid lanes, first) token, skewed: row i by 1 + i, column j by 1 + j
        ctl = data.StructLayout({"valid": Q, "first": 1})
        tok = Signal(ctl)
        m.d.comb += [tok.valid.eq(valid), tok.first.eq(first)]
        a_in = [[None] * C for _ in range(R)]
        t_in = [[None] * C for _ in range(R)]
        b_in = [[None] * C for _ in range(R)]
        for i in range(R):
            a_in[i][0] = self._delay(m, self.a_data[i], lane_a, 1 + i, f"a_skew{i}")
            t_in[i][0] = self._delay(m, tok, ctl, 1 + i, f"t_skew{i}")
            for j in range(1, C):
                a_in[i][j] = self._delay(m, a_in[i][j - 1], lane_a, 1, f"a_{i}_{j}")
                t_in[i][j] = self._delay(m, t_in[i][j - 1], ctl, 1, f"t_{i}_{j}")
        for j in range(C):
            b_in[0][j] = self._delay(m, self.b_data[j], lane_b, 1 + j, f"b_skew{j}")
            for i in range(1, R):
                b_in[i][j] = self._delay(m, b_in[i - 1][j], lane_b, 1, f"b_{i}_{j}")
        acc = [[Signal(accl, name=f"acc_{i}_{j}") for j in range(C)] for i in range(R)]
        zero = Const(f.empty_sum, Shape.cast(accl).width)  # the empty sum: exact zero, or -0 (float accumulator)
        for i in range(R):
            for j in range(C):
                pe = self._pe(m, i, j)
                t = self._delay(m, t_in[i][j], ctl, 1, f"t_pe_{i}_{j}") if self._pipeline else t_in[i][j]
                # en with the operands (the PE delays it with its product register)
                m.d.comb += [pe.a.eq(a_in[i][j]), pe.b.eq(b_in[i][j]), pe.en.eq(t_in[i][j].valid),
                             pe.acc_in.eq(Mux(t.first, Value.cast(zero), Value.cast(acc[i][j])))]
                with m.If(drain):
                    m.d.sync += acc[i][j].eq(acc[i + 1][j] if i + 1 < R else zero)
                with m.Elif(t.valid != 0):
                    m.d.sync += acc[i][j].eq(pe.acc_out)
        for j in range(C):
            er = self._edge(m, j)
            m.d.comb += er.acc.eq(acc[0][j])
            with m.If(drain):
                m.d.sync += self.c_data[j].eq(er.code)

