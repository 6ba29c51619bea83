"""Where things live. Every location can be moved with an environment variable; relative defaults are taken
from the project root (the checkout holding pyproject.toml), so notebooks run from notebooks/ or papermill
write to the same places as scripts run from the root."""
from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def _path(var: str, default: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else project_root() / default


def data_dir() -> Path:
    """$MASKCL_DATA (torchvision's layout: MNIST/raw/*.gz), default <root>/data."""
    return _path("MASKCL_DATA", "data")


def download_allowed() -> bool:
    """$MASKCL_DOWNLOAD=1 (reproduce.sh --download): missing data sets may be fetched (canonical archives, md5-checked)."""
    return os.environ.get("MASKCL_DOWNLOAD", "0") == "1"


def results_dir() -> Path:
    """$MASKCL_RESULTS: finished results (JSON), default <root>/.cache/maskcl/results; results/ is the
    committed store behind the gallery (reproduce.sh --from-results)."""
    return _path("MASKCL_RESULTS", ".cache/maskcl/results")


def cache_dir() -> Path:
    """$MASKCL_CACHE: checkpoints of runs in progress, default <root>/.cache/maskcl."""
    return _path("MASKCL_CACHE", ".cache/maskcl")


def figures_dir() -> Path:
    """$MASKCL_FIGURES: PNG + CSV + provenance of every figure, default <root>/build/figures — a notebook run in
    JupyterLab never writes into the committed gallery <root>/figures (reproduce.sh --gallery / --from-results
    point this variable there)."""
    return _path("MASKCL_FIGURES", "build/figures")
