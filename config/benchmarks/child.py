"""Peak memory of a child process, measured inside it (see ``peak.py`` for why)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

PEAK_SCRIPT = Path(__file__).with_name("peak.py")
CHECK_MIB = 50


@dataclass(frozen=True)
class ChildRun:
    peak_mib: float
    output: str


def run_measured(program: list[str], env: Mapping[str, str] | None = None) -> ChildRun:
    """Run ``python <program>`` (a script and its arguments, or ``-c CODE``); its own peak."""
    with tempfile.TemporaryDirectory(prefix="messaging-peak-") as tmp:
        peak_file = Path(tmp) / "peak"
        result = subprocess.run(
            [sys.executable, str(PEAK_SCRIPT), str(peak_file), *program],
            env=dict(env if env is not None else os.environ),
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(program)} failed:\n{result.stdout}")
        return ChildRun(peak_mib=int(peak_file.read_text()) / 1024, output=result.stdout)


def check_method() -> tuple[float, float]:
    """Peaks (MiB) of an idle child and of one that fills ``CHECK_MIB`` MiB.

    Raises when the difference is not about ``CHECK_MIB``: the figures would be wrong.
    """
    idle = run_measured(["-c", "pass"]).peak_mib
    filled = run_measured(["-c", f"block = b'x' * ({CHECK_MIB} * 2**20)"]).peak_mib
    if not CHECK_MIB * 0.9 < filled - idle < CHECK_MIB * 1.2:
        raise RuntimeError(
            f"A child filling {CHECK_MIB} MiB peaked {filled - idle:.1f} MiB above an idle "
            "one: the peak-memory measure does not work on this system."
        )
    return idle, filled
