"""Child processes that end with the process that started them, even when it is killed.

A benchmark or a test starts SMTP sinks and task workers. When it is killed (by
``timeout``, Ctrl-C, or SIGKILL), they must not keep running. On Linux each child asks the
kernel, before it runs its program, to send it SIGTERM when its parent goes away
(``PR_SET_PDEATHSIG``); this holds even for a child in a session of its own and for a
parent that had no chance to clean up. :func:`terminate_on_signals` turns SIGTERM and SIGHUP
into ``SystemExit``, so that a parent that is told to stop still runs its own cleanup
(stopping its children, dropping its throwaway database).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# Loaded once in the parent: a child between fork and exec should only make the call.
LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with(parent: int) -> Callable[[], None]:
    """The ``preexec_fn`` of a child of ``parent``: SIGTERM once ``parent`` is gone."""

    def ask_the_kernel() -> None:
        LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return ask_the_kernel


def start(command: Sequence[str], **popen: Any) -> subprocess.Popen:
    """``subprocess.Popen(command, **popen)`` whose process ends when this thread's process does.

    The kernel ties the signal to the thread that started the child: start children from
    the thread that lives as long as they should (the main thread, in benchmarks and tests).
    """
    if LIBC is not None:
        popen["preexec_fn"] = die_with(os.getpid())
    return subprocess.Popen(command, **popen)


def stop_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def terminate_on_signals() -> None:
    """Stop this process on SIGTERM and SIGHUP as on Ctrl-C: cleanup code still runs."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop_on_signal)
