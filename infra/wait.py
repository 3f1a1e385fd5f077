"""The one wait-until-deadline loop (standard library only)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """``what`` did not happen within the timeout; the message says what was awaited."""


def wait_until(probe: Callable[[], T | None], *, timeout: float, what: str,
               interval: float = 0.1) -> T:
    """Call ``probe`` until it returns something other than ``None``/``False``; return that.

    Raises ``WaitTimeout("<what> after <timeout> s")`` when ``timeout`` seconds pass first.
    ``probe`` is always called at least once, and once more at the deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out waiting for {what} after {timeout:g} s")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
