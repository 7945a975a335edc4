"""report.html in real headless Chromium: the checks every report must pass, synthetic or real.

Chromium's own background services would call Google at start-up: the host resolver
rules make every name resolve to nothing, so no packet leaves this machine, and the
net log shows which URLs were attempted. The page itself must attempt none.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--enable-logging=stderr",
    "--v=0",
)
CHROMIUM_SERVICE_HOSTS = ("google.com", "googleapis.com")
CONSOLE = re.compile(r":(?:INFO|WARNING|ERROR):CONSOLE[:(]\d+\)?\] (.*)")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chromium(tmp_path: Path, page: Path, *mode: str) -> tuple[str, list[str], list[str]]:
    """Run Chromium on ``page``: stdout, console messages, URLs its network stack tried."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    net_log = profile.with_suffix(".netlog.json")
    done = subprocess.run(
        [
            "chromium",
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--log-net-log={net_log}",
            *mode,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [m.group(1) for m in CONSOLE.finditer(done.stderr)]
    urls = re.findall(r'"url":"([^"]*)"', net_log.read_text())
    return done.stdout, console, urls


def page_requests(urls: list[str]) -> list[str]:
    return [
        url for url in urls if not (urlsplit(url).hostname or "").endswith(CHROMIUM_SERVICE_HOSTS)
    ]


def rendered_offline(tmp_path: Path, page: Path) -> str:
    """The DOM Chromium rendered from ``page``, after checking that the file refers to
    nothing outside itself, logged nothing to the console and requested nothing."""
    html = page.read_text()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html)
    assert not re.search(r"url\(|@import|<script|<link", html)
    dom, console, urls = chromium(tmp_path, page, "--dump-dom")
    assert console == []
    assert page_requests(urls) == []
    return dom


def screenshot(tmp_path: Path, page: Path, out: Path, height: int = 2400) -> Path:
    """A PNG of ``page`` as a person sees it; more than a blank page."""
    chromium(tmp_path, page, f"--screenshot={out}", f"--window-size=1200,{height}")
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert out.stat().st_size > 50_000  # charts, tables and colour, not a blank page
    return out
