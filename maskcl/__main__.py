"""Command line: `python -m maskcl stale [RESULTS]` lists the results the current code would not produce
(exit 1 when there are any)."""
from __future__ import annotations

import argparse
import sys

from .runs import stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maskcl")
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("stale", help="list results made by an older version of their method")
    st.add_argument("results", nargs="?", default="results")
    args = parser.parse_args(argv)
    found = stale(args.results)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
