"""Building blocks shared by the nonlinear RTL units: restoring division steps and the iterative
divider built from them, the I-ViT shift-based exponential as combinational logic, the
row-timing record, and parameter checks."""
from __future__ import annotations

import math
from dataclasses import dataclass

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.hdl import ShapeLike, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...errors import UnitConfigError
from ...formats import check_int as formats_check_int

__all__ = ["MAX_DIVIDER_BITS", "RowTiming", "check_pipeline", "register_stage", "IterativeDivider", "PipelinedDivider", "divider_cycles", "exp_shift", "check_int",
           "check_divider_bits",
           "isqrt_states", "restoring_steps", "signed_bits", "unsigned_bits"]


@dataclass(frozen=True)
class RowTiming:
    """Cycle figures of a row unit with its input always valid and its output always ready.

    Attributes
    ----------
    cycles_per_row : cycles between accepting the first element of one row and the first
        element of the next (the unit's row initiation interval), in clock cycles.
    latency_cycles : cycles from the clock edge that accepts a row's first element to the
        first clock edge at which its first output element is valid.
    """

    cycles_per_row: int
    latency_cycles: int


def check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    """``hw.formats.check_int`` (the one integer checker) with the units' errors:
    ``UnitConfigTypeError`` for a value that is not an integer, ``UnitConfigError`` out of range."""
    return formats_check_int(name, value, lo, hi, error=UnitConfigError)


#: most quotient bits a divider retires per cycle (or per pipeline stage)
MAX_DIVIDER_BITS = 64


def check_divider_bits(value: object, name: str = "divider_bits_per_cycle") -> int:
    """``value`` as quotient bits per cycle, in ``[1, MAX_DIVIDER_BITS]`` (one rule for every
    unit and its timing function)."""
    return check_int(name, value, 1, MAX_DIVIDER_BITS)


def check_pipeline(value: object, max_pipeline: int) -> int:
    """``value`` as a number of pipeline register stages, in ``[0, max_pipeline]`` (one rule for
    every pipelined unit and its timing function)."""
    return check_int("pipeline", value, 0, max_pipeline)


def register_stage(m: Module, enable: Value, name: str, **values: Value) -> dict[str, Signal]:
    """One pipeline register stage: a register per named value (``<name>_<key>``, reset to 0),
    loaded with it on every cycle ``enable`` is high. Returns the registers by name."""
    regs = {}
    for key, value in values.items():
        reg = Signal(Value.cast(value).shape(), name=f"{name}_{key}")
        with m.If(enable):
            m.d.sync += reg.eq(value)
        regs[key] = reg
    return regs


def signed_bits(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in ``[lo, hi]``."""
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


def unsigned_bits(hi: int) -> int:
    """Smallest unsigned width holding ``hi`` (at least 1)."""
    return max(1, int(hi).bit_length())


def divider_cycles(dividend_width: int, bits_per_cycle: int) -> int:
    """Busy cycles of ``IterativeDivider``: ``ceil(dividend_width / bits_per_cycle)``."""
    return math.ceil(dividend_width / bits_per_cycle)


def restoring_steps(m: Module, rem: Value, quo: Value, dvs: Value, k: int, name: str) -> tuple[Value, Value]:
    """``k`` steps of unsigned restoring division as combinational logic: step ``i`` shifts the
    next dividend bit (bit ``i`` from the top of ``quo``) into the partial remainder, subtracts
    ``dvs`` when it fits, and yields one quotient bit; the quotient bits enter ``quo`` from the
    bottom. Returns the new (rem, quo). Only the remainders are chained, so no signal depends on
    another bit of itself (Verilator sees no combinational loop)."""
    wd, wq = len(dvs), len(quo)
    r: Value = rem
    bits = []
    for step in range(k):
        trial = Signal(wd + 1, name=f"{name}trial{step}")
        ge = Signal(name=f"{name}ge{step}")
        r_next = Signal(wd + 1, name=f"{name}rem{step}")
        m.d.comb += [trial.eq(Cat(quo[wq - 1 - step], r[:wd])),  # (r << 1) | next dividend bit
                     ge.eq(trial >= dvs),
                     r_next.eq(Mux(ge, trial - dvs, trial))]
        r = r_next
        bits.append(ge)
    return r, Cat(*reversed(bits), quo[:wq - k])


def isqrt_states(m: Module, radicand: Value, root_w: int, *, on_done, next_state: str) -> None:
    """FSM states computing ``isqrt(radicand)`` one root bit per cycle (call inside ``m.FSM()``):
    ``ISQRT_INIT`` (1 cycle, latches ``radicand``), ``ISQRT`` (``root_w`` cycles) and
    ``ISQRT_DONE`` (1 cycle), which applies the statements ``on_done(root)`` and goes to
    ``next_state``. ``radicand`` must be below ``2^(2 root_w)``."""
    op = Signal(unsigned(2 * root_w), name="isqrt_op")
    res = Signal(unsigned(2 * root_w), name="isqrt_res")
    one = Signal(unsigned(2 * root_w), name="isqrt_one")
    with m.State("ISQRT_INIT"):
        m.d.sync += [op.eq(radicand), res.eq(0), one.eq(1 << (2 * root_w - 2))]
        m.next = "ISQRT"
    with m.State("ISQRT"):
        # if op >= res + one: op -= res + one; res = res/2 + one; else res = res/2; one /= 4
        trial = res + one
        with m.If(op >= trial):
            m.d.sync += [op.eq(op - trial), res.eq((res >> 1) + one)]
        with m.Else():
            m.d.sync += res.eq(res >> 1)
        m.d.sync += one.eq(one >> 2)
        with m.If(one == 1):
            m.next = "ISQRT_DONE"
    with m.State("ISQRT_DONE"):
        m.d.sync += list(on_done(res))
        m.next = next_state


class IterativeDivider(wiring.Component):
    """Unsigned restoring divider retiring ``bits_per_cycle`` quotient bits per cycle.

    Pulse ``start`` with ``dividend``/``divisor`` valid; ``done`` pulses ``divider_cycles(...)``
    cycles later, after which ``quotient``/``remainder`` hold until the next ``start``.
    A zero divisor gives an all-ones quotient (the units never divide by zero).
    """

    def __init__(self, *, dividend_width: int, divisor_width: int, bits_per_cycle: int = 1) -> None:
        self._wn = check_int("dividend_width", dividend_width, 1, 256)
        self._wd = check_int("divisor_width", divisor_width, 1, 128)
        self._k = check_divider_bits(bits_per_cycle, "bits_per_cycle")
        super().__init__({
            "start": In(1), "dividend": In(unsigned(self._wn)), "divisor": In(unsigned(self._wd)),
            "busy": Out(1), "done": Out(1),
            "quotient": Out(unsigned(self._wn)), "remainder": Out(unsigned(self._wd)),
        })

    @property
    def cycles(self) -> int:
        """Busy cycles per division."""
        return divider_cycles(self._wn, self._k)

    def elaborate(self, platform) -> Module:
        m = Module()
        steps = self.cycles
        width = steps * self._k
        quo = Signal(width)
        rem = Signal(self._wd + 1)
        dvs = Signal(self._wd)
        count = Signal(range(steps + 1))
        m.d.comb += [self.quotient.eq(quo[:self._wn]), self.remainder.eq(rem[:self._wd]),
                     self.busy.eq(count != 0)]
        m.d.sync += self.done.eq(0)
        with m.If(self.start):
            m.d.sync += [quo.eq(self.dividend), rem.eq(0), dvs.eq(self.divisor), count.eq(steps)]
        with m.Elif(count != 0):
            r, q = restoring_steps(m, rem, quo, dvs, self._k, "")
            m.d.sync += [rem.eq(r), quo.eq(q), count.eq(count - 1)]
            with m.If(count == 1):
                m.d.sync += self.done.eq(1)
        return m


class PipelinedDivider(wiring.Component):
    """Unsigned restoring divider pipelined over ``ceil(dividend_width / bits_per_stage)``
    stages: one division accepted per cycle, its quotient ``stages + 1`` cycles later, with a
    ``tag`` carried alongside. The ``i`` and ``o`` streams are valid/ready; a result nobody
    takes stalls the whole pipeline. A zero divisor gives an all-ones quotient.

    Ports: ``i`` (stream of ``{dividend, divisor, tag}``), ``o`` (stream of ``{quotient, tag}``).
    """

    def __init__(self, *, dividend_width: int, divisor_width: int, bits_per_stage: int = 1,
                 tag_shape: ShapeLike = 1) -> None:
        self._wn = check_int("dividend_width", dividend_width, 1, 256)
        self._wd = check_int("divisor_width", divisor_width, 1, 128)
        self._k = check_divider_bits(bits_per_stage, "bits_per_stage")
        self._tag = tag_shape
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"dividend": unsigned(self._wn),
                                                        "divisor": unsigned(self._wd), "tag": tag_shape}))),
            "o": Out(stream.Signature(data.StructLayout({"quotient": unsigned(self._wn), "tag": tag_shape}))),
        })

    @property
    def stages(self) -> int:
        """Division stages (each retires ``bits_per_stage`` quotient bits)."""
        return divider_cycles(self._wn, self._k)

    @property
    def latency_cycles(self) -> int:
        """Cycles from the edge that accepts a division to the cycle its result is offered."""
        return self.stages + 1

    def elaborate(self, platform) -> Module:
        m = Module()
        width = self.stages * self._k
        enable = Signal()
        m.d.comb += [enable.eq(~self.o.valid | self.o.ready), self.i.ready.eq(enable)]
        p = self.i.payload
        nxt: tuple = (self.i.valid, 0, p.dividend, p.divisor, p.tag)
        for j in range(self.stages + 1):  # stage 0 holds the operands, stage j j * k quotient bits
            regs = (Signal(name=f"s{j}_valid"), Signal(self._wd + 1, name=f"s{j}_rem"),
                    Signal(width, name=f"s{j}_quo"), Signal(self._wd, name=f"s{j}_dvs"),
                    Signal(self._tag, name=f"s{j}_tag"))
            with m.If(enable):
                m.d.sync += [r.eq(v) for r, v in zip(regs, nxt)]
            valid, rem, quo, dvs, tag = regs
            if j < self.stages:
                r, q = restoring_steps(m, rem, quo, dvs, self._k, f"s{j + 1}_")
                nxt = (valid, r, q, dvs, tag)
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.quotient.eq(quo[:self._wn]),
                     self.o.payload.tag.eq(tag)]
        return m


def exp_shift(m: Module, d: Value, *, x0: int, n: int, q_lo: int, name: str) -> tuple[Signal, Signal]:
    """Combinational I-ViT ``int_exp_shift`` of the signed value ``d`` (README §4.4).

    ``t = d + (d >> 1) - (d >> 4)``, clamped at ``n * x0``; ``q = t // x0`` is found by comparing
    ``t`` with the constants ``j * x0`` for ``j`` in ``[q_lo, n]``; ``e = (t - x0 q - 2 x0) * 2^(n-1-q)``.
    Returns ``(e, sat)``: ``sat`` is set when ``q < q_lo`` (then ``e >= 2^(n-1-q_lo)``, and ``e``
    itself is not meaningful). With ``q_lo = 0`` the argument must be <= 0.
    """
    dw = len(d)
    t_raw = Signal(signed(dw + 2), name=f"{name}_t_raw")
    m.d.comb += t_raw.eq(d + (d >> 1) - (d >> 4))
    t = Signal(signed(max(dw + 2, signed_bits(n * x0, 0) + 1)), name=f"{name}_t")
    m.d.comb += t.eq(Mux(t_raw < n * x0, n * x0, t_raw))
    flags = [t <= j * x0 for j in range(q_lo, n + 1)]
    q = Signal(signed(signed_bits(q_lo - 1, n)), name=f"{name}_q")
    m.d.comb += q.eq(q_lo - 1 + sum(f.as_unsigned() for f in flags))
    base_w = unsigned_bits(-2 * x0)
    base = Signal(unsigned(base_w), name=f"{name}_base")
    m.d.comb += base.eq(t - q * x0 - 2 * x0)
    shamt = Signal(range(n - q_lo + 1), name=f"{name}_shamt")  # n - q, in [0, n - q_lo]
    m.d.comb += shamt.eq(n - q)
    e = Signal(unsigned(base_w + n - q_lo - 1), name=f"{name}_e")
    m.d.comb += e.eq((base << shamt)[1:])
    sat = Signal(name=f"{name}_sat")
    m.d.comb += sat.eq(~flags[0])
    return e, sat
