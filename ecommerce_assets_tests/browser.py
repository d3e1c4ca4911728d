"""Headless Chromium (Debian's package, installed by scripts/system-deps.sh, which command B runs) for the tests that look at pages."""

import shutil
import subprocess
from pathlib import Path

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("chromium is not installed: apt-get install chromium (scripts/system-deps.sh, run by command B, does)")
    return path


def render(url: str, profile: Path, screenshot: Path | None = None, size: str = "1400,4200",
           wait_ms: int = 15000) -> tuple[str, list[str]]:
    """The DOM after scripts ran, and the page's console messages; optionally a screenshot."""
    args = [chromium(), *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
            f"--window-size={size}", f"--virtual-time-budget={wait_ms}"]
    if screenshot is not None:
        done = subprocess.run([*args, f"--screenshot={screenshot}", url], capture_output=True, text=True, timeout=180)
        assert screenshot.exists(), done.stderr[-2000:]
    done = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=180)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console
