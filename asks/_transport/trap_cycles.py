"""The reference cycle every exception a curio trap raises is born in, and its cure.

curio delivers a timeout or a cancellation to a task by making the trap it
waits in (``curio.traps._kernel_trap``, the generator at the bottom of every
``await`` on a socket, an event or a sleep) raise it. That generator keeps
the exception in a local first, so the exception is a cycle with its own
traceback: exception -> traceback -> the trap's frame -> exception. Reference
counting cannot free a cycle: the exception, every frame it went up through
and whatever those frames held (a connection, its socket, the call, the
response) then stay alive until the garbage collector runs - about 35 objects
per timed-out request, and at a crawl's thousands of dead hosts that is
collector work the rest of the run pays for.

:func:`break_trap_cycle` clears the locals of that one finished frame, which
breaks the cycle and keeps the traceback whole (every line of it still
shows). asks calls it where it handles such an exception (a timeout turned
into ``RequestTimeout``, a crawl's per-URL timeout) and where one leaves
asks without being handled (a cancellation or a caller's own timeout):
``Session.request`` for everything a call does, and the body readers for a
stream read after the call has returned. None of them waits for the
collector.
"""

from __future__ import annotations

from types import CodeType

import curio.traps

__all__ = ["break_trap_cycle"]

# The code of the trap generator's frames (types.coroutine keeps the
# function's code, only flagging it). A private name of curio's: should a
# version not have it, nothing is cleared and the collector frees the cycles.
_TRAP_CODE: CodeType | None = getattr(getattr(curio.traps, "_kernel_trap", None), "__code__", None)


def break_trap_cycle(exc: BaseException) -> None:
    """Let *exc* and the frames it went up through be freed by reference counting.

    Only the frame the exception was raised in is cleared, and only when it
    is curio's trap: an exception raised anywhere else holds no cycle of its
    own, and its frames keep their locals for a debugger.
    """
    tb = exc.__traceback__
    if tb is None or _TRAP_CODE is None:
        return
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    if frame.f_code is _TRAP_CODE:
        frame.clear()
