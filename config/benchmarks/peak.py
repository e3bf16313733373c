"""Run a Python program and write its own peak memory (KiB) to a file when it exits.

Usage: ``python peak.py OUTFILE SCRIPT [ARGS...]`` or ``python peak.py OUTFILE -c CODE``.

It runs as a script, not through the benchmarks' package, so nothing is imported before the
program. ``VmHWM`` in ``/proc/self/status`` is the high-water mark of this process's own
memory since exec. ``ru_maxrss`` is not: Python starts children with vfork, and Linux carries
the parent's peak into the child across exec, in ``wait4`` and ``RUSAGE_SELF`` alike.
"""

from __future__ import annotations

import atexit
import os
import runpy
import sys
from pathlib import Path


def vm_hwm_kib() -> int:
    """This process's peak resident set size, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("No VmHWM in /proc/self/status: this measure needs Linux.")


def main() -> None:
    out_file, *program = sys.argv[1:]
    # atexit: also when the program ends with sys.exit(), as management commands may.
    atexit.register(lambda: Path(out_file).write_text(str(vm_hwm_kib())))
    if program[0] == "-c":
        sys.argv, sys.path[0] = ["-c", *program[2:]], ""
        exec(compile(program[1], "<string>", "exec"), {"__name__": "__main__"})
    else:
        sys.argv, sys.path[0] = program, os.path.dirname(os.path.abspath(program[0]))
        runpy.run_path(program[0], run_name="__main__")


if __name__ == "__main__":
    main()
