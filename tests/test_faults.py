"""Bad input and damaged stores: each fault is caught early, named with its path, and loses nothing."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from maskcl import profiles, runs
from maskcl.__main__ import main
from maskcl.runs import StreamExperiment
from maskcl.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
TINY = StreamExperiment(arch="lenet", out_size=10, n_tasks=2, checkpoints=(2,), train=TrainConfig(steps=20, batch=32),
                  test_limit=64, dataset="synthetic")


def test_a_truncated_result_is_moved_aside_and_recomputed(tmp_path, capsys):
    good = runs.run(TINY, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    path = runs.result_path(TINY, tmp_path / "r")
    path.write_text(path.read_text()[:100])
    assert "not readable JSON" in runs.stale(tmp_path / "r")[0]
    again = runs.run(TINY, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    assert again["per_task"] == good["per_task"]
    assert (path.parent / f"{path.name}.corrupt-1").exists() and str(path) in capsys.readouterr().err


@pytest.mark.parametrize("piece", ["masks/progress.json", "masks/task_00000.safetensors"])
def test_a_truncated_checkpoint_is_named_moved_aside_and_the_run_starts_afresh(tmp_path, capsys, piece):
    good = runs.run(TINY, device="cpu", results=tmp_path / "r1", cache=tmp_path / "c")
    folder = tmp_path / "c" / "ckpt" / runs.key(TINY)
    damaged = folder / piece
    damaged.write_bytes(damaged.read_bytes()[:20])
    again = runs.run(TINY, device="cpu", results=tmp_path / "r2", cache=tmp_path / "c")
    assert again["per_task"] == good["per_task"]
    assert str(damaged) in capsys.readouterr().err
    assert (folder.parent / f"{folder.name}.corrupt-1" / piece).exists()  # kept, not deleted


def test_a_read_only_results_folder_fails_before_training(tmp_path, monkeypatch):
    if os.geteuid() == 0:  # root writes anyway: make the folder a file instead
        (tmp_path / "r").mkdir()
        (tmp_path / "r" / "supsup").write_text("a file where a folder should be")
    else:
        (tmp_path / "r" / "supsup").mkdir(parents=True)
        (tmp_path / "r" / "supsup").chmod(0o500)
    from maskcl.setups import SETUPS
    monkeypatch.setitem(SETUPS, "stream", lambda fn: pytest.fail("training started"))
    with pytest.raises(PermissionError, match="is not writable .*; nothing was computed"):
        runs.run(TINY, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_an_error_even_for_a_cached_run(tmp_path):
    runs.run(TINY, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        runs.run(TINY, device="cuda", results=tmp_path / "r", cache=tmp_path / "c")


def test_notebook_names_are_checked_whole_and_stale_needs_a_folder(tmp_path, capsys):
    assert profiles.notebook_experiments("09", "smoke") == profiles.notebook_experiments("09_exssnet_splitmnist", "smoke")
    with pytest.raises(ValueError, match="no notebook '09garbage'"):
        profiles.notebook_experiments("09garbage", "smoke")
    assert main(["stale", str(tmp_path / "nonexistent")]) == 2
    assert "no results folder" in capsys.readouterr().err


def test_ctrl_c_stops_reproduce_at_once_with_the_summary_so_far(tmp_path):
    env = {**os.environ, "MASKCL_PYTHON": sys.executable, "PYTHONPATH": str(ROOT), "MASKCL_RESULTS": str(tmp_path / "r"),
           "MASKCL_CACHE": str(tmp_path / "c"), "MASKCL_FIGURES": str(tmp_path / "f")}
    out_file, err_file = tmp_path / "out.txt", tmp_path / "err.txt"
    with open(out_file, "w") as out, open(err_file, "w") as err:
        proc = subprocess.Popen(["bash", str(ROOT / "reproduce.sh"), "--no-setup", "--profile", "smoke", "--only", "0"],
                                env=env, stdout=out, stderr=err, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline and "== 01" not in out_file.read_text() and proc.poll() is None:
            time.sleep(0.2)
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C: the whole foreground group
        proc.wait(timeout=120)
    out, err = out_file.read_text(), err_file.read_text()
    assert proc.returncode == 130, (out, err)
    assert "reproduce.sh: interrupted" in err
    assert [line.split()[-1] for line in out.splitlines() if line.startswith("01_")] == ["interrupted"]
    assert "== 02" not in out  # the next notebook never started


def test_dataset_auto_is_keyed_by_the_data_set_it_resolves_to(tmp_path, monkeypatch):
    from dataclasses import replace

    monkeypatch.setenv("MASKCL_DATA", str(tmp_path / "empty"))  # no MNIST here: 'auto' means synthetic
    auto = replace(TINY, dataset="auto")
    assert runs.key(auto) == runs.key(replace(TINY, dataset="synthetic")) != runs.key(replace(TINY, dataset="mnist"))
    res = runs.run(auto, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    assert res["config"]["dataset"] == "synthetic" and runs.stale(tmp_path / "r") == []


def test_half_written_files_of_a_killed_write_are_cleaned_when_the_run_resumes(tmp_path):
    folder = tmp_path / "c" / "ckpt" / runs.key(TINY)
    (folder / "masks").mkdir(parents=True)
    orphans = [folder / "masks" / ".task_00000.safetensors.abc.tmp", folder / ".progress.json.def.tmp"]
    result_tmp = runs.result_path(TINY, tmp_path / "r")
    result_tmp = result_tmp.parent / f".{result_tmp.name}.xyz.tmp"
    result_tmp.parent.mkdir(parents=True)
    for f in (*orphans, result_tmp):
        f.write_text("half")
    runs.run(TINY, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    assert not any(f.exists() for f in (*orphans, result_tmp))


def test_notebook_parameters_are_checked_before_any_run(tmp_path):
    from maskcl.notebook import check_parameters

    check_parameters({"PROFILE": "smoke", "DEVICE": "cpu", "TOLERANCE": 0.5, "SEEDS": [0, 1]})
    check_parameters({"SEEDS": None})  # notebook 06: the profile's seeds
    for bad, what in (({"TOLERANCE": "abc"}, "TOLERANCE='abc'"), ({"PROFILE": "fast"}, "PROFILE='fast'"),
                      ({"SEEDS": "0,1"}, "SEEDS='0,1'"), ({"PAPER_SEEDS": [0.5]}, "PAPER_SEEDS"),
                      ({"DEVICE": "tpu"}, "DEVICE='tpu'")):
        with pytest.raises(ValueError, match=what):
            check_parameters(bad)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MASKCL_RESULTS": str(tmp_path / "r"),
           "MASKCL_CACHE": str(tmp_path / "c"), "MASKCL_FIGURES": str(tmp_path / "f")}
    out = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "09_exssnet_splitmnist.ipynb"),
                          str(tmp_path / "out.ipynb"), "-p", "PROFILE", "smoke", "-p", "TOLERANCE", "abc",
                          "--cwd", str(ROOT / "notebooks"), "--no-progress-bar"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "TOLERANCE='abc'" in out.stderr + out.stdout
    assert not (tmp_path / "r").exists(), "a run started before the parameters were checked"


def test_a_notebook_run_by_hand_never_writes_into_the_committed_gallery(monkeypatch):
    from maskcl.paths import figures_dir, project_root

    monkeypatch.delenv("MASKCL_FIGURES", raising=False)
    assert figures_dir() == project_root() / "build" / "figures" != project_root() / "figures"


def test_run_with_missing_data_prints_the_data_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    """`run` checks the data first, as `data` does: one message naming what is missing, exit 2, nothing run."""
    monkeypatch.setenv("MASKCL_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("MASKCL_OFFLINE", "1")
    monkeypatch.setenv("MASKCL_RESULTS", str(tmp_path / "results"))
    assert main(["run", "01", "--profile", "quick"]) == 2
    err = capsys.readouterr().err
    assert "Data missing or corrupt" in err and "mnist" in err.lower() and "Traceback" not in err
    assert not (tmp_path / "results").exists()
