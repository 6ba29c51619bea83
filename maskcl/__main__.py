"""Command line.

    python -m maskcl stale [RESULTS]                    results made by an older method version (exit 1 if any)
    python -m maskcl data --profile P [--download | --offline] NOTEBOOK...
                                                        check the data those notebooks read under profile P,
                                                        fetching what is missing when the network is there (or
                                                        always with --download, never with --offline); exit 2
                                                        with one message if any is still missing or corrupt
    python -m maskcl run NOTEBOOK --profile P [--jobs N] [--executor local|slurm] [--device D] [--where F=V]
                                                        compute every run the notebook needs, without executing
                                                        it: over N local processes, or one SLURM job per run
                                                        (submitit); then ./reproduce.sh re-plots from the cache
"""
from __future__ import annotations

import argparse
import sys
import time

import os

from .data import DataError, cifar_available, mnist_available, verify_cifar, verify_mnist
from .data.cifar import DATASETS
from .data.files import reachable
from .data.mnist import TorchvisionMNIST
from .paths import data_dir, download_allowed
from .profiles import datasets, parse_where
from .runs import PROFILES, stale


def source_url(name: str) -> str:
    """Where a data set's canonical archives come from (MNIST: torchvision's first mirror)."""
    return TorchvisionMNIST.mirrors[0] if name == "mnist" else DATASETS[name].url


def check_data(notebooks: list[str], profile: str, download: str = "auto") -> list[str]:
    """One message per data set the notebooks need under `profile` that is missing or corrupt. download: 'yes'
    fetches whatever is missing, 'no' never does, 'auto' fetches a missing data set when its source answers (a
    corrupt file is never replaced: it is named, and left as it is)."""
    problems = []
    for name in datasets(notebooks, profile):
        present = mnist_available() if name == "mnist" else cifar_available(name)
        fetch = not present and (download == "yes" or (download == "auto" and reachable(source_url(name))))
        try:
            verify_mnist(download=fetch) if name == "mnist" else verify_cifar(name, download=fetch)
        except DataError as err:
            problems.append(str(err))
    return problems


def report_data_problems(problems: list[str], offline: bool) -> int:
    """Print `check_data`'s problems as one message (nothing is run) and return the exit status 2."""
    print(f"Data missing or corrupt (MASKCL_DATA = {data_dir()}); nothing was run.\n", file=sys.stderr)
    print("\n\n".join(problems), file=sys.stderr)
    why = "--offline was given" if offline else "their sources did not answer"
    print(f"\nNothing was downloaded ({why}). With the network: ./reproduce.sh --download "
          "(canonical archives, md5-checked).", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maskcl")
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("stale", help="list results made by an older version of their method")
    st.add_argument("results", nargs="?", default="results")
    dt = sub.add_parser("data", help="check the data the given notebooks read under a profile")
    dt.add_argument("--profile", required=True, choices=PROFILES)
    dt.add_argument("--download", action="store_true", help="fetch missing data sets (canonical, md5-checked)")
    dt.add_argument("--offline", action="store_true", help="never fetch: report what is missing")
    dt.add_argument("notebooks", nargs="+", help="notebook names or numbers, e.g. 01_supsup_gnu_permuted_mnist or 08")
    rn = sub.add_parser("run", help="compute a notebook's runs (in parallel, or on a SLURM cluster)")
    rn.add_argument("notebook", help="notebook name or number, e.g. 09")
    rn.add_argument("--profile", default="quick", choices=PROFILES)
    rn.add_argument("--device", default="auto")
    rn.add_argument("--jobs", type=int, default=1, help="local worker processes (default 1)")
    rn.add_argument("--executor", default="local", choices=("local", "slurm", "submitit-local"))
    rn.add_argument("--timeout-min", type=int, default=240, help="slurm: time limit per job")
    rn.add_argument("--partition", default=None, help="slurm: partition")
    rn.add_argument("--gpus", type=int, default=0, help="slurm: GPUs per job")
    rn.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE",
                    help="only the runs whose config FIELD is VALUE, e.g. --where arch=lenet (repeatable)")
    args = parser.parse_args(argv)
    offline = os.environ.get("MASKCL_OFFLINE", "0") == "1" or getattr(args, "offline", False)
    mode = "no" if offline else "yes" if getattr(args, "download", False) or download_allowed() else "auto"
    if args.command == "run":
        from .launch import launch

        if args.jobs < 1:
            parser.error("--jobs must be at least 1")
        slurm = {"timeout_min": args.timeout_min}
        if args.executor == "slurm":
            slurm.update(gpus_per_node=args.gpus, **({"slurm_partition": args.partition} if args.partition else {}))
        start = time.perf_counter()
        try:
            where = parse_where(",".join(args.where))
            problems = check_data([args.notebook], args.profile, mode)  # the data first, as `data` checks it
            if problems:
                return report_data_problems(problems, offline)
            counts = launch(args.notebook, args.profile, args.device, args.jobs, args.executor, slurm=slurm,
                            where=where)
        except DataError as err:  # e.g. a file that went bad while running
            return report_data_problems([str(err)], offline)
        except ValueError as err:
            parser.error(str(err))
        print(f"{args.notebook} ({args.profile}): {counts['ran']} ran, {counts['done']} already done, "
              f"{counts['busy']} running elsewhere; {time.perf_counter() - start:.1f} s")
        return 0
    if args.command == "stale":
        try:
            found = stale(args.results)
        except FileNotFoundError as err:
            print(f"maskcl stale: {err}", file=sys.stderr)
            return 2
        for line in found:
            print(line)
        return 1 if found else 0
    problems = check_data(args.notebooks, args.profile, mode)
    if problems:
        return report_data_problems(problems, offline)
    need = datasets(args.notebooks, args.profile)
    print(f"data: {', '.join(need) if need else 'none needed (synthetic)'} verified (md5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
