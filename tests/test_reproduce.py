import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from maskcl import profiles
from maskcl.data import MNIST_FILES

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("args, message", [
    (["--profile", "fast"], "unknown profile 'fast'"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--frobnicate"], "unknown option '--frobnicate'"),
])
def test_bad_arguments_are_usage_errors(args, message):
    out = subprocess.run(["bash", str(ROOT / "reproduce.sh"), *args], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and message in out.stderr


def test_unknown_notebook_prefix_is_an_error():
    out = subprocess.run(["bash", str(ROOT / "reproduce.sh"), "--no-setup", "--only", "99_nothing"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "no notebook matches" in out.stderr


def test_gpu_run_needs_out_before_installing_anything():
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    out = subprocess.run(["bash", str(ROOT / "tools" / "gpu_run.sh"), "--only", "05"], capture_output=True,
                         text=True, timeout=30, env=env)
    assert out.returncode != 0 and "set OUT" in out.stderr


def _reproduce(args, data, timeout=60):
    env = {**os.environ, "MASKCL_PYTHON": sys.executable, "PYTHONPATH": str(ROOT), "MASKCL_DATA": str(data)}
    return subprocess.run(["bash", str(ROOT / "reproduce.sh"), "--no-setup", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_missing_data_stops_every_notebook_before_it_starts(tmp_path):
    """No data and no network: one message naming every missing file of every data set, exit 2, in seconds."""
    start = time.time()
    out = _reproduce(["--profile", "quick"], tmp_path)
    assert out.returncode == 2 and time.time() - start < 30
    for text in ("MNIST is missing", "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                 "cifar10 is missing", "data_batch_1.bin", "./reproduce.sh --download", "nothing was run"):
        assert text in out.stderr
    assert out.stderr.count("MNIST is missing") == 1 and "Executing" not in out.stderr + out.stdout
    assert list(tmp_path.iterdir()) == []  # nothing created or fetched


def test_a_refused_run_creates_no_output_folders(tmp_path):
    """Output folders are made only once a notebook runs: a run stopped by the data check leaves none behind."""
    env = {**os.environ, "MASKCL_PYTHON": sys.executable, "PYTHONPATH": str(ROOT), "MASKCL_DATA": str(tmp_path),
           "MASKCL_FIGURES": str(tmp_path / "figures")}
    out = subprocess.run(["bash", str(ROOT / "reproduce.sh"), "--no-setup", "--only", "09", "--offline"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2 and not (tmp_path / "figures").exists()


def test_corrupt_data_is_named_before_any_notebook(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        (raw / name).write_bytes(b"not an archive")
    out = _reproduce(["--profile", "quick", "--only", "06"], tmp_path)
    assert out.returncode == 2 and "is corrupt" in out.stderr and "Executing" not in out.stderr
    assert all((raw / n).read_bytes() == b"not an archive" for n in MNIST_FILES)


def test_preflight_knows_what_each_profile_reads():
    assert profiles.datasets(["01_supsup_gnu_permuted_mnist", "08_supsup_gg_splitcifar"], "quick") == ["mnist", "cifar10"]
    assert profiles.datasets(["08"], "paper") == ["cifar100"]
    assert profiles.datasets(list(profiles.NOTEBOOKS), "smoke") == []  # smoke falls back to synthetic data
    assert sorted(profiles.NOTEBOOKS) == sorted(p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture
def _build_left_as_found():
    """The stand-in runs below reach the point where reproduce.sh creates build/<profile>/figures in the work tree:
    remove the folders a test created (only empty ones it made), so the test suite leaves the tree as it found it."""
    before = {p for p in (ROOT / "build").rglob("*")} if (ROOT / "build").exists() else None
    yield
    if before is None:
        if (ROOT / "build").exists() and not any(p.is_file() for p in (ROOT / "build").rglob("*")):
            shutil.rmtree(ROOT / "build")
        return
    for p in sorted(set((ROOT / "build").rglob("*")) - before, reverse=True):
        if p.is_dir() and not any(p.iterdir()):
            p.rmdir()


def _papermill_call(tmp_path, args, env_extra=None) -> str:
    """The papermill command line (with MASKCL_PROGRESS and MASKCL_FIGURES appended) that reproduce.sh runs for
    notebook 01, seen through a stand-in interpreter that records its arguments; CI and MASKCL_FIGURES come only
    from `env_extra`."""
    log = tmp_path / "calls"
    stub = tmp_path / "python"
    stub.write_text(f"#!/usr/bin/env bash\necho \"$* PROGRESS=$MASKCL_PROGRESS FIGURES=$MASKCL_FIGURES\" >> {log}\n"
                    "[ \"$2\" = papermill ] && exit 1\nexit 0\n")
    stub.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "MASKCL_FIGURES")}
    env.update({"MASKCL_PYTHON": str(stub), **(env_extra or {})})
    subprocess.run(["bash", str(ROOT / "reproduce.sh"), "--no-setup", "--only", "01", *args], capture_output=True,
                   text=True, timeout=60, env=env)
    papermill = [line for line in log.read_text().splitlines() if line.startswith("-m papermill")]
    assert len(papermill) == 1, papermill
    return papermill[0]


@pytest.mark.parametrize("args, ci, bar", [
    (["--profile", "quick"], None, "--progress-bar"),
    (["--profile", "quick", "--quiet"], None, "--no-progress-bar"),
    (["--profile", "quick"], "true", "--no-progress-bar"),
    (["--profile", "smoke"], None, "--no-progress-bar"),
])
def test_progress_bar_on_a_terminal_run_quiet_under_smoke_ci_and_quiet(tmp_path, args, ci, bar, _build_left_as_found):
    """The per-cell bar unless smoke, $CI or --quiet; the library's bars always off inside headless kernels."""
    call = _papermill_call(tmp_path, args, {"CI": ci} if ci else None).split()
    assert call[-3] == bar and call[-2] == "PROGRESS=0", call


@pytest.mark.parametrize("args, where", [
    ([], "build/quick/figures"),
    (["--gallery"], "figures"),
    (["--from-results"], "figures"),
    (["--profile", "paper"], "build/paper/figures"),
])
def test_only_an_explicit_flag_writes_the_committed_gallery(tmp_path, args, where, _build_left_as_found):
    """A default run's figures go to build/<profile>/figures/; figures/ (the gallery) only with --gallery or
    --from-results, so a quick run never replaces a committed paper-profile figure."""
    assert _papermill_call(tmp_path, args).endswith(f"FIGURES={ROOT / where}")


def test_offline_stops_at_once_without_probing_and_auto_fetches_when_the_source_answers(tmp_path, monkeypatch):
    """--offline: exit 2 with the message, no network probe. Default: a missing data set whose source answers is
    fetched (through the same md5-checked path as --download) before any notebook; corrupt files never are."""
    out = _reproduce(["--profile", "quick", "--only", "09", "--offline"], tmp_path)
    assert out.returncode == 2 and "--offline was given" in out.stderr and "MNIST is missing" in out.stderr
    from maskcl import __main__ as cli

    fetched = []
    monkeypatch.setattr(cli, "reachable", lambda url: url.startswith("https://ossci-datasets"))
    monkeypatch.setattr(cli, "verify_mnist", lambda download=False: fetched.append(download))
    monkeypatch.setattr(cli, "mnist_available", lambda: False)
    assert cli.check_data(["09"], "quick", "auto") == [] and fetched == [True]
    assert cli.check_data(["09"], "quick", "no") == [] and fetched == [True, False]
    monkeypatch.setattr(cli, "mnist_available", lambda: True)  # present (perhaps corrupt): only verified
    cli.check_data(["09"], "quick", "auto")
    assert fetched[-1] is False


def test_reachable_is_bounded_in_time():
    from maskcl.data.files import reachable

    start = time.time()
    assert reachable("https://192.0.2.1/", timeout=1.0) is False  # TEST-NET-1: never answers
    assert time.time() - start < 3
