"""Command line.

    python -m maskcl stale [RESULTS]                    results made by an older method version (exit 1 if any)
    python -m maskcl data --profile P NOTEBOOK...       check (or with --download fetch) the data those notebooks
                                                        read under profile P; exit 2 with one message if any is
                                                        missing or corrupt
"""
from __future__ import annotations

import argparse
import sys

from .data import DataError, verify_cifar, verify_mnist
from .paths import data_dir, download_allowed
from .profiles import datasets
from .runs import PROFILES, stale


def check_data(notebooks: list[str], profile: str, download: bool) -> list[str]:
    """One message per data set the notebooks need under `profile` that is missing or corrupt."""
    problems = []
    for name in datasets(notebooks, profile):
        try:
            verify_mnist(download=download) if name == "mnist" else verify_cifar(name, download=download)
        except DataError as err:
            problems.append(str(err))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maskcl")
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("stale", help="list results made by an older version of their method")
    st.add_argument("results", nargs="?", default="results")
    dt = sub.add_parser("data", help="check the data the given notebooks read under a profile")
    dt.add_argument("--profile", required=True, choices=PROFILES)
    dt.add_argument("--download", action="store_true", help="fetch missing data sets (canonical, md5-checked)")
    dt.add_argument("notebooks", nargs="+", help="notebook names or numbers, e.g. 01_supsup_gnu_permuted_mnist or 08")
    args = parser.parse_args(argv)
    if args.command == "stale":
        found = stale(args.results)
        for line in found:
            print(line)
        return 1 if found else 0
    problems = check_data(args.notebooks, args.profile, args.download or download_allowed())
    if problems:
        print(f"Data missing or corrupt (MASKCL_DATA = {data_dir()}); nothing was run.\n", file=sys.stderr)
        print("\n\n".join(problems), file=sys.stderr)
        print("\nWith the network: ./reproduce.sh --download (canonical archives, md5-checked).", file=sys.stderr)
        return 2
    need = datasets(args.notebooks, args.profile)
    print(f"data: {', '.join(need) if need else 'none needed (synthetic)'} verified (md5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
