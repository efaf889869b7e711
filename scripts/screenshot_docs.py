#!/usr/bin/env python
"""Take headless-Chromium screenshots of the documentation site, to check how it really renders.

Builds the site with ``mkdocs build`` (or uses ``--site-dir``), serves it on 127.0.0.1 from a background
thread with :mod:`http.server`, and writes one PNG per page into ``--out``.

Usage::

    python scripts/screenshot_docs.py --out /tmp/doc_shots
    python scripts/screenshot_docs.py --site-dir /tmp/site --out /tmp/doc_shots --page "" --page api/ops/warp/

Needs Chromium (Debian/Ubuntu: ``apt-get install -y chromium``); ``--chromium`` or ``$CHROMIUM`` picks the binary.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PAGES = ("", "api/ops/warp/")
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium(explicit: str | None) -> str:
    """Locate a Chromium binary.

    Args:
        explicit: a path or command name given by the user (or ``None``).

    Returns:
        The executable path.

    Raises:
        SystemExit: with installation instructions when none is found.
    """
    for name in ([explicit] if explicit else []) + [os.environ.get("CHROMIUM", "")] + list(CANDIDATES):
        if name and (path := shutil.which(name) or (name if Path(name).is_file() else None)):
            return path
    raise SystemExit(
        "screenshot_docs: no Chromium found (tried --chromium, $CHROMIUM, " + ", ".join(CANDIDATES) + ").\n"
        "Install it with:  apt-get install -y chromium   (Debian/Ubuntu)\n"
        "or pass --chromium /path/to/chrome."
    )


def build_site(site_dir: Path) -> None:
    """Run ``mkdocs build --strict`` into ``site_dir``.

    Args:
        site_dir: output folder.

    Raises:
        SystemExit: if the build fails.
    """
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)]
    print("+", " ".join(cmd), flush=True)
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        raise SystemExit("screenshot_docs: mkdocs build failed")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


def serve(site_dir: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``site_dir`` on a free port of 127.0.0.1 from a daemon thread.

    Args:
        site_dir: the built site.

    Returns:
        The server (call ``shutdown()``) and its base URL.
    """
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def screenshot(chromium: str, url: str, out: Path, size: tuple[int, int], timeout: float) -> None:
    """Screenshot one URL with headless Chromium.

    Args:
        chromium: the browser executable.
        url: page to load.
        out: PNG to write.
        size: window ``(width, height)``.
        timeout: seconds before giving up.

    Raises:
        RuntimeError: if Chromium fails or writes no file.
    """
    with tempfile.TemporaryDirectory(prefix="stvsr_chromium_") as profile:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}",
               f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=5000", url]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if not out.is_file():
        raise RuntimeError(f"chromium wrote no screenshot for {url} (exit {proc.returncode}):\n{proc.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    Args:
        argv: arguments (default: ``sys.argv[1:]``).

    Returns:
        Exit status.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    p.add_argument("--site-dir", type=Path, help="an existing build (default: build into a temporary folder)")
    p.add_argument("--page", action="append", help="page path relative to the site root, e.g. 'api/ops/warp/' "
                   "(repeatable; '' is the home page; default: home + api/ops/warp/)")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=1600)
    p.add_argument("--chromium", help="browser executable")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds per screenshot")
    args = p.parse_args(argv)

    chromium = find_chromium(args.chromium)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stvsr_site_") as tmp:
        site = args.site_dir or Path(tmp) / "site"
        if args.site_dir is None:
            build_site(site)
        elif not (site / "index.html").is_file():
            raise SystemExit(f"screenshot_docs: {site} has no index.html; build the site first or drop --site-dir")
        server, base = serve(site)
        try:
            for page in args.page if args.page is not None else DEFAULT_PAGES:
                name = (page.strip("/").replace("/", "_") or "home") + ".png"
                target = args.out / name
                target.unlink(missing_ok=True)
                screenshot(chromium, base + page.lstrip("/"), target, (args.width, args.height), args.timeout)
                print(target)
        finally:
            server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
