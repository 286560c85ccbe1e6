"""break_trap_cycle: the exception a curio trap raises, freed without the collector.

curio's trap generator keeps the exception it raises in a local, so the
exception, its traceback and that frame are a reference cycle. Clearing the
one frame must free them by reference counting, keep the traceback as it
prints, and touch no frame but curio's trap.
"""

from __future__ import annotations

import traceback

import curio
import pytest

from asks._transport import trap_cycles
from asks._transport.trap_cycles import break_trap_cycle
from tests.hostile_helpers import cyclic_garbage


async def _timed_out() -> curio.TaskTimeout:
    try:
        await curio.timeout_after(0.001, curio.sleep, 10)
    except curio.TaskTimeout as exc:
        return exc
    pytest.fail("the sleep should have timed out")


def _is_timeout(o: object) -> bool:
    return isinstance(o, curio.errors.CancelledError)


async def test_a_trap_exception_is_freed_by_reference_counting_once_broken():
    with cyclic_garbage(_is_timeout) as held:
        exc = await _timed_out()
        break_trap_cycle(exc)
        del exc
    assert held == []


async def test_left_alone_a_trap_exception_is_a_cycle():
    # What the function is for: without it, the collector finds the timeout.
    with cyclic_garbage(_is_timeout) as held:
        exc = await _timed_out()
        del exc
    assert len(held) == 1


async def test_the_traceback_prints_the_same_once_broken():
    exc = await _timed_out()
    before = traceback.format_exception(exc)
    break_trap_cycle(exc)
    assert traceback.format_exception(exc) == before
    break_trap_cycle(exc)  # twice is harmless


def test_an_exception_raised_elsewhere_keeps_its_frames_locals():
    def fails() -> None:
        kept = "for a debugger"  # noqa: F841
        raise ValueError("not from a trap")

    with pytest.raises(ValueError) as info:
        fails()
    break_trap_cycle(info.value)
    tb = info.value.__traceback__
    assert tb is not None
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_frame.f_locals["kept"] == "for a debugger"


async def test_a_curio_without_the_trap_name_makes_it_a_no_op(monkeypatch):
    monkeypatch.setattr(trap_cycles, "_TRAP_CODE", None)
    with cyclic_garbage(_is_timeout) as held:
        exc = await _timed_out()
        break_trap_cycle(exc)
        del exc
    assert len(held) == 1
