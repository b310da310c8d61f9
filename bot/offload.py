"""CPU-heavy work (a 20,000-entry postmortem draft, a quarter's stats) off the event loop.

One worker thread, so such jobs take turns: several running at once each compete with the
event loop for the interpreter, and acks queued behind three of them took 300 ms. With one
at a time (and `serve` making threads hand the interpreter back every millisecond) they stay
within a few milliseconds (bench/postmortem_load.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_HEAVY = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heavy")
_turns: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


def heavy_turn() -> asyncio.Lock:
    """Held for the whole of a heavy job, its database reads included (the driver's
    threads compete for the interpreter as the worker does): one such job at a time."""
    loop = asyncio.get_running_loop()
    if loop not in _turns:
        _turns.clear()  # a loop that is gone (tests start several, one after another)
        _turns[loop] = asyncio.Lock()
    return _turns[loop]


async def heavy(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn(*args, **kwargs)` on the heavy-work thread, one job at a time."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_HEAVY, lambda: fn(*args, **kwargs))
