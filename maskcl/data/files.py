"""Data files on disk: where they live, md5 checks, and the one kind of error a missing or corrupt file raises."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..paths import data_dir


class DataError(RuntimeError):
    """A data set is missing or does not match its checksum."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """`root`, else $MASKCL_DATA, else <project root>/data."""
    return Path(root) if root is not None else data_dir()


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether `url`'s host accepts a TCP connection within `timeout` seconds (name lookup included: the probe runs
    in a daemon thread, so a hanging lookup costs no more than the timeout)."""
    import socket
    import threading
    from urllib.parse import urlparse

    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    ok = []

    def probe():
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    return bool(ok)
