"""The one base of the streaming nonlinear units: ``RowUnit`` holds the frozen golden kernel
descriptor (``hw.nonlinear``) a unit is bit-identical to, the unit's keyword parameters and its
timing function, the ``i``/``o`` valid-ready streams, and the phases every row unit shares
(a row buffer written while LOAD accepts ``length`` elements, an OUT phase offering ``length``
results)."""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping

from amaranth import Module, Mux, Signal, unsigned
from amaranth.hdl import Shape, ShapeLike, Value
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ...errors import UnitConfigTypeError
from ...nonlinear import KERNELS, NonlinearKernel
from ._common import RowTiming, check_int

__all__ = ["RowUnit", "MAX_LENGTH"]

#: longest row a unit takes (elements; the row buffer's depth): 2**20, the kernels' bound
MAX_LENGTH = 1 << 20


class RowUnit(wiring.Component):
    """Base of the nonlinear units: one golden kernel, one timing function, two streams.

    Subclasses set the class attributes below, build their kernel descriptor from their
    keyword-only parameters (the kernel validates its constants: ranges are defined once, in
    ``hw.nonlinear``) and call ``super().__init__(kernel, ...)``.

    Ports: ``i`` (stream of the input shape, sink) and ``o`` (stream of results, source), plus
    any ``extra`` members a subclass adds (e.g. ``row_error``).
    """

    #: golden kernel name (a key of ``hw.nonlinear.KERNELS``)
    kernel_name: ClassVar[str]
    #: the model function the unit computes ("softmax", "gelu", "layernorm", "rmsnorm", "silu_mul")
    function: ClassVar[str]
    #: ``timing(length, **params) -> RowTiming``: the unit's one timing function
    row_timing: ClassVar[Callable[..., RowTiming]]
    #: names of the unit parameters (besides ``length``) the timing function takes
    timing_params: ClassVar[tuple[str, ...]] = ()
    #: widest input the datapath takes (bits)
    max_x_bits: ClassVar[int] = 24
    #: longest row (elements): the row buffer's depth (for element-wise units, a timing bound)
    max_length: ClassVar[int] = MAX_LENGTH
    #: most register stages the unit's ``pipeline`` parameter takes (0: the unit has none)
    max_pipeline: ClassVar[int] = 0

    def __init__(self, kernel: NonlinearKernel, *, x_bits: int, length: int, out_shape: ShapeLike,
                 in_shape: ShapeLike | None = None, options: Mapping[str, Any] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        """
        Parameters
        ----------
        kernel : the golden kernel descriptor (an instance of ``KERNELS[kernel_name]``).
        x_bits : input width in bits (signed), 2..``max_x_bits``.
        length : row length L in elements, 1..``max_length``.
        out_shape : shape of the ``o`` stream's payload.
        in_shape : shape or layout of the ``i`` stream's payload (default ``signed(x_bits)``).
        options : the unit's parameters besides ``x_bits``, ``length`` and the kernel's
            constants (e.g. ``divider_bits_per_cycle``), reported by ``params()``.
        extra : further signature members (e.g. ``{"row_error": Out(1)}``).
        """
        if not isinstance(kernel, KERNELS[self.kernel_name]):
            raise UnitConfigTypeError(f"{type(self).__name__} kernel must be a {KERNELS[self.kernel_name].__name__}, "
                                  f"not {type(kernel).__name__}")
        self._kernel = kernel
        self._x_bits = check_int("x_bits", x_bits, 2, self.max_x_bits)
        self._length = check_int("length", length, 1, self.max_length)
        self._options = dict(options or {})
        in_shape = in_shape if in_shape is not None else Shape(self._x_bits, signed=True)
        super().__init__({"i": In(stream.Signature(in_shape)), "o": Out(stream.Signature(out_shape)),
                          **(extra or {})})

    @property
    def kernel(self) -> NonlinearKernel:
        """The frozen golden kernel descriptor the unit's outputs equal bit for bit."""
        return self._kernel

    @property
    def x_bits(self) -> int:
        """Input width in bits (signed)."""
        return self._x_bits

    @property
    def length(self) -> int:
        """Row length L in elements (element-wise units use it for timing only)."""
        return self._length

    @property
    def input_fields(self) -> tuple[str, ...]:
        """Field names of one input element when the payload is a layout (e.g. ``("gate",
        "up")``), or ``()`` when it is one integer."""
        return ()

    def input_ranges(self) -> list[tuple[int, int]]:
        """(lo, hi) of each input field (one range for an integer payload)."""
        return [(-(1 << (self._x_bits - 1)), (1 << (self._x_bits - 1)) - 1)]

    def params(self) -> dict[str, Any]:
        """The keyword parameters that rebuild this unit: ``type(u)(**u.params())``."""
        return {"x_bits": self._x_bits, "length": self._length, **self._kernel.consts(), **self._options}

    def timing_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``row_timing`` for this unit (its ``timing_params``; a parameter
        ``params()`` leaves out at its default, as ``pipeline`` 0, is left to the default)."""
        p = self.params()
        return {k: p[k] for k in self.timing_params if k in p}

    @property
    def pipeline(self) -> int:
        """Register stages added on the unit's datapath (0 for a unit without the parameter)."""
        return int(self._options.get("pipeline", 0))

    def timing(self) -> RowTiming:
        """``row_timing(length, **timing_kwargs())``: cycles per row and latency."""
        return type(self).row_timing(self._length, **self.timing_kwargs())

    # ------------------------------------------------------------------ shared elaboration
    def row_index(self, m: Module) -> tuple[Signal, Value]:
        """The element counter of the row phases and its ``idx == length - 1`` flag."""
        idx = Signal(range(self._length), name="idx")
        return idx, idx == self._length - 1

    def row_buffer(self, m: Module, name: str, shape: ShapeLike, init: tuple[int, ...] = ()):
        """A ``length``-deep memory ``name``: (write port, combinational read port)."""
        mem = memory.Memory(shape=shape, depth=self._length, init=list(init))
        m.submodules[name] = mem
        return mem.write_port(), mem.read_port(domain="comb")

    def load_state(self, m: Module, idx: Signal, last: Value, *, next_state: str, wr=None,
                   on_element: list | Callable[[], list] = (), on_last: list = ()) -> None:
        """State ``LOAD``: accept one element per cycle (``i.ready`` high), write it to the row
        buffer ``wr`` at ``idx``, apply the ``on_element`` statements, and after the last
        element apply ``on_last`` and go to ``next_state``. Call inside ``m.FSM()``."""
        with m.State("LOAD"):
            m.d.comb += self.i.ready.eq(1)
            with m.If(self.i.valid):
                if wr is not None:
                    m.d.comb += [wr.addr.eq(idx), wr.data.eq(self.i.payload), wr.en.eq(1)]
                m.d.sync += idx.eq(Mux(last, 0, idx + 1))
                m.d.sync += list(on_element() if callable(on_element) else on_element)
                with m.If(last):
                    m.d.sync += list(on_last)
                    m.next = next_state

    def out_state(self, m: Module, idx: Signal, last: Value, *, after_element: str = "OUT") -> None:
        """State ``OUT``: offer ``o.payload`` (driven by the subclass from ``idx``); on each
        transfer advance ``idx`` and go to ``after_element``, or to ``LOAD`` after the last."""
        with m.State("OUT"):
            m.d.comb += self.o.valid.eq(1)
            with m.If(self.o.ready):
                m.d.sync += idx.eq(Mux(last, 0, idx + 1))
                if after_element != "OUT":
                    m.next = after_element
                with m.If(last):
                    m.next = "LOAD"

    def issue_state(self, m: Module, idx: Signal, last: Value, *, name: str, issue: Signal, advance: Value,
                    next_state: str, comb: list = ()) -> None:
        """State ``name`` of a pipelined unit: issue the row element at ``idx`` down the element
        path (``issue`` and the ``comb`` statements high) and, on each cycle the path advances,
        step ``idx``; after the last element go to ``next_state``. Call inside ``m.FSM()``."""
        with m.State(name):
            m.d.comb += [issue.eq(1), *comb]
            with m.If(advance):
                m.d.sync += idx.eq(Mux(last, 0, idx + 1))
                with m.If(last):
                    m.next = next_state

    def divide_states(self, m: Module, div, name: str, *, dividend: Value, divisor: Value,
                      next_state: str, on_done: list = ()) -> None:
        """States ``<name>_ISSUE`` (start the iterative divider ``div`` on the operands, 1 cycle)
        and ``<name>_WAIT`` (until ``div.done``, ``div.cycles + 1`` cycles; then apply
        ``on_done`` and go to ``next_state``). Call inside ``m.FSM()``."""
        with m.State(f"{name}_ISSUE"):
            m.d.comb += [div.start.eq(1), div.dividend.eq(dividend), div.divisor.eq(divisor)]
            m.next = f"{name}_WAIT"
        with m.State(f"{name}_WAIT"):
            with m.If(div.done):
                m.d.sync += list(on_done)
                m.next = next_state

    def rounded_mean(self, m: Module, div, offset: int) -> Value:
        """``rne(sum / length)`` from ``div``'s quotient and remainder of ``(sum + offset *
        length) // length`` (the offset keeps the dividend non-negative)."""
        rem2 = Signal(unsigned(len(div.remainder) + 1), name="mean_rem2")
        m.d.comb += rem2.eq(div.remainder << 1)
        up = (rem2 > self._length) | ((rem2 == self._length) & div.quotient[0])
        return div.quotient + up - offset

    def running_max(self, idx: Signal, mx: Signal) -> list:
        """Statements keeping ``mx`` the maximum of the row's elements accepted so far."""
        x = self.i.payload
        return [mx.eq(Mux((idx == 0) | (x > mx), x, mx))]
