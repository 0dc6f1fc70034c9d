# SPDX-License-Identifier: MIT
"""A UART shell for boards: bytes in make a sample, the class index goes back as a byte.

Written here because Amaranth 0.5 ships no UART and amaranth-stdio is not on PyPI (its PyPI
name is a placeholder). 8N1, LSB first, ``divisor`` clock cycles per bit.

Protocol (:class:`UartShell`): the host sends one byte per raw input element, in the model's
C order, each the element's value as an 8-bit two's-complement number; after the sample's last
element the shell feeds the sample to the network top, and sends back one byte, the class
index. Samples may follow each other back to back: a complete sample moves to a holding
register for the network while the next one is received; the network must take it within one
sample's transmission time (``elements`` x 10 bit times, thousands of cycles against an II of
at most a few hundred for the designs this is used with).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ..design.params import as_int

__all__ = ["UartRx", "UartTx", "UartShell"]


class UartRx(wiring.Component):
    """Receives bytes from ``rx``; each arrives on ``o``, valid for one cycle. ``o`` has no
    back-pressure (``always_ready``): a byte not taken that cycle is lost, so the consumer must
    always take it. ``rx`` is asynchronous to the clock and passes a two-flip-flop
    synchronizer (:class:`~amaranth.lib.cdc.FFSynchronizer`) first."""

    rx: In(1, init=1)
    o: Out(stream.Signature(unsigned(8), always_ready=True))

    def __init__(self, divisor):
        self.divisor = as_int(divisor, "divisor (clock cycles per bit)", minimum=4)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.rx_sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor * 3 // 2 + 1))
        bits = Signal(range(10))
        shift = Signal(8)
        m.d.sync += self.o.valid.eq(0)
        with m.FSM():
            with m.State("idle"):
                with m.If(~rx):                            # start bit: sample mid-bit 0
                    m.d.sync += [timer.eq(self.divisor * 3 // 2 - 1), bits.eq(0)]
                    m.next = "data"
            with m.State("data"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], rx)), bits.eq(bits + 1),
                                 timer.eq(self.divisor - 1)]
                    with m.If(bits == 7):
                        m.next = "stop"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("stop"):
                with m.If(timer == 0):
                    with m.If(rx):                          # a valid stop bit
                        m.d.sync += [self.o.payload.eq(shift), self.o.valid.eq(1)]
                    m.next = "idle"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
        return m


class UartTx(wiring.Component):
    """Sends the bytes of ``i`` on ``tx`` (ready while idle)."""

    i: In(stream.Signature(unsigned(8)))
    tx: Out(1, init=1)

    def __init__(self, divisor):
        self.divisor = as_int(divisor, "divisor", minimum=1)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        frame = Signal(10, init=0x3FF)                   # stop, data (LSB first), start
        left = Signal(range(11))
        m.d.comb += [self.i.ready.eq(left == 0), self.tx.eq(frame[0])]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [frame.eq(Cat(0, self.i.payload, 1)), left.eq(10),
                         timer.eq(self.divisor - 1)]
        with m.Elif(left != 0):
            with m.If(timer == 0):
                m.d.sync += [frame.eq(Cat(frame[1:], 1)), left.eq(left - 1),
                             timer.eq(self.divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


class UartShell(wiring.Component):
    """A network top behind a UART: see the module docstring for the protocol.

    ``top``: a :class:`~nomul.gateware.network.NetworkTop` with an argmax output;
    ``elements``: raw elements per sample; ``raw_bits``: their width at the top's input.
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __init__(self, top, *, elements, raw_bits, divisor):
        if raw_bits > 8:
            raise ValueError(f"raw input elements of {raw_bits} bits do not fit the UART's "
                             "one byte per element")
        self.top, self.elements, self.raw_bits = top, int(elements), int(raw_bits)
        self.divisor = int(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = rx = UartRx(self.divisor)
        m.submodules.tx = tx = UartTx(self.divisor)
        m.submodules.top = top = self.top
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]

        lanes, bits = top.lanes, self.raw_bits
        words = -(-self.elements // lanes)
        sample = Signal(words * lanes * bits)            # the sample being received
        count = Signal(range(self.elements + 1))
        held = Signal(words * lanes * bits)              # a complete sample, waiting/sending
        full = Signal()
        beat = Signal(range(words))
        # the last byte shifted in is the sample's last element: align element 0 to bit 0
        pad = (words * lanes - self.elements) * bits
        take = (count == self.elements) & ~full
        with m.If(take):
            m.d.sync += [held.eq(sample >> pad if pad else sample), full.eq(1), beat.eq(0)]
        with m.If(rx.o.valid):
            m.d.sync += [sample.eq(Cat(sample[bits:], rx.o.payload[:bits])),
                         count.eq(Mux(take, 1, count + 1))]
        with m.Elif(take):
            m.d.sync += count.eq(0)
        m.d.comb += [top.i.valid.eq(full),
                     top.i.payload.eq(held.word_select(beat, lanes * bits))]
        with m.If(top.i.valid & top.i.ready):
            with m.If(beat == words - 1):
                m.d.sync += full.eq(0)
            with m.Else():
                m.d.sync += beat.eq(beat + 1)
        m.d.comb += [tx.i.valid.eq(top.o.valid), tx.i.payload.eq(top.o.payload),
                     top.o.ready.eq(tx.i.ready)]
        return m
