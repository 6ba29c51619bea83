"""tqdm progress bars that tests and papermill smoke runs silence with MASKCL_PROGRESS=0."""
from __future__ import annotations

import os

from tqdm import tqdm


def bar(iterable, desc: str = "", total: int | None = None, enabled: bool | None = None):
    if enabled is None:
        enabled = os.environ.get("MASKCL_PROGRESS", "1") != "0"
    return tqdm(iterable, desc=desc, total=total, disable=not enabled, leave=False)
