"""Headless Chromium for the page tests (map and report): found on the PATH, or ``None``."""

from __future__ import annotations

import shutil
import subprocess

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def chromium(*args: str, profile) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with its own profile directory, no network of its own, 5 s of virtual time."""
    assert BROWSER is not None
    flags = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--virtual-time-budget=5000",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run([*flags, *args], capture_output=True, text=True, timeout=120, check=False)


def dom(page, profile) -> subprocess.CompletedProcess[str]:
    """The page's DOM after its scripts ran, with the console on stderr."""
    return chromium("--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri(), profile=profile)
