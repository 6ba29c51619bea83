"""tqdm progress bars that tests and papermill smoke runs silence with MASKCL_PROGRESS=0."""
from __future__ import annotations

import os

from tqdm import tqdm


def bar(iterable, desc: str = ""):
    return tqdm(iterable, desc=desc, disable=os.environ.get("MASKCL_PROGRESS", "1") == "0", leave=False)
