"""One computation per run key, whoever asks: a claim file `<cache>/claims/<key>` (host and pid inside) taken
atomically (O_EXCL). A claim whose local process has died is taken over (the run resumes from its checkpoints);
a process asking again for a claim it holds gets it (a launcher's worker, then the runner inside it)."""
from __future__ import annotations

import os
import socket
from pathlib import Path


def _alive(host: str, pid: int) -> bool:
    if host != socket.gethostname():
        return True  # another machine's process: assume it is working
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder(path: Path) -> tuple[str, int] | None:
    """Who holds the claim (host, pid), or None when nobody (or it is being written)."""
    try:
        host, pid = path.read_text().split()
        return host, int(pid)
    except (OSError, ValueError):
        return None


def claim(path: Path) -> bool:
    """Take the claim file `path` unless a live worker other than this process holds it; True when held by us."""
    path.parent.mkdir(parents=True, exist_ok=True)
    me = (socket.gethostname(), os.getpid())
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = holder(path)
            if owner is None:  # being written or just released: let its owner have it
                return False
            if owner == me:
                return True
            if _alive(*owner):
                return False
            path.unlink(missing_ok=True)  # its worker died: take over (the run resumes from its checkpoints)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{me[0]} {me[1]}")
        return True
    return False
