"""python -m maskcl run: a notebook's runs computed without the notebook — over local processes or submitit jobs —
with each run trained exactly once however many workers go at it."""
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from maskcl import claims, launch
from maskcl.runs import key

ROOT = Path(__file__).resolve().parent.parent


def test_a_claim_is_taken_once_and_taken_over_from_a_dead_worker(tmp_path):
    path = tmp_path / "claims" / "k"
    assert claims.claim(path) and claims.claim(path)  # this process holds it (and may ask again)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        path.write_text(f"{socket.gethostname()} {live.pid}")  # another live worker holds it
        assert not claims.claim(path)
    finally:
        live.kill()
        live.wait()
    assert claims.claim(path) and path.read_text().split()[1] == str(os.getpid())  # its worker died: taken over


def test_the_runner_waits_for_a_run_another_process_computes_then_takes_it_over(tmp_path, monkeypatch):
    """A notebook and the CLI at once: the second caller waits on the first one's claim (here a process that
    dies without a result), then computes the run itself — once."""
    import threading
    import time

    from maskcl import runs
    from maskcl.runs import StreamExperiment
    from maskcl.train import TrainConfig

    exp = StreamExperiment(arch="lenet", out_size=10, n_tasks=1, checkpoints=(1,), train=TrainConfig(steps=10, batch=32),
                     test_limit=64, dataset="synthetic")
    monkeypatch.setattr(runs, "WAIT_S", 0.1)
    lock = tmp_path / "c" / "claims" / key(exp)
    lock.parent.mkdir(parents=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    lock.write_text(f"{socket.gethostname()} {other.pid}")
    got = {}
    worker = threading.Thread(target=lambda: got.update(res=runs.run(exp, device="cpu", results=tmp_path / "r",
                                                                      cache=tmp_path / "c")))
    worker.start()
    time.sleep(1.0)
    assert worker.is_alive() and "res" not in got  # waiting, not computing
    other.kill()
    other.wait()
    worker.join(120)
    assert got["res"]["rows"] and not lock.exists()


def test_unique_runs_lists_each_key_once():
    runs = launch.unique_runs("09", "paper")
    assert len(runs) == len({key(e) for e in runs}) == 27


def _cli(tmp_path, *args):
    env = {**os.environ, "MASKCL_RESULTS": str(tmp_path / "results"), "MASKCL_CACHE": str(tmp_path / "cache"),
           "MASKCL_PROGRESS": "0", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "maskcl", "run", "09", "--profile", "smoke", "--device", "cpu", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _counts(out: str) -> dict:
    m = re.search(r"(\d+) ran, (\d+) already done, (\d+) running elsewhere", out)
    assert m, out
    return dict(zip(("ran", "done", "busy"), map(int, m.groups())))


@pytest.mark.slow
def test_two_launches_at_once_train_every_run_exactly_once(tmp_path):
    """Two `run --jobs 2` launches on one store: between them every run of the grid is trained once; a rerun
    finds them all done."""
    procs = [_cli(tmp_path, "--jobs", "2") for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    counts = [_counts(o) for o, _ in outs]
    n = len(launch.unique_runs("09", "smoke"))
    assert sum(c["ran"] for c in counts) == n
    assert len(list((tmp_path / "results").glob("*/*.json"))) == n
    assert not list((tmp_path / "cache" / "claims").glob("*"))  # every claim released
    again = _cli(tmp_path)
    assert _counts(again.communicate(timeout=120)[0]) == {"ran": 0, "done": n, "busy": 0}


@pytest.mark.slow
def test_submitit_executor_gives_the_same_results_as_local_processes(tmp_path):
    pytest.importorskip("submitit")
    import hashlib
    import json

    local = _cli(tmp_path / "a", "--jobs", "2")
    assert _counts(local.communicate(timeout=300)[0])["ran"] == 9
    sub = _cli(tmp_path / "b", "--executor", "submitit-local")
    out, err = sub.communicate(timeout=300)
    assert sub.returncode == 0 and _counts(out)["ran"] == 9, err

    def digest(root):
        out = {}
        for f in sorted(root.glob("results/*/*.json")):
            d = json.loads(f.read_text())
            d.pop("provenance")
            out[f.name] = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()
        return out

    assert digest(tmp_path / "a") == digest(tmp_path / "b") != {}


def test_bad_launch_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no notebook"):
        launch.launch("99", "smoke", results=tmp_path, cache=tmp_path)
    with pytest.raises(ValueError, match="unknown executor"):
        launch.launch("09", "smoke", executor="kubernetes", results=tmp_path, cache=tmp_path)
    out = subprocess.run([sys.executable, "-m", "maskcl", "run", "09", "--jobs", "0"], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2 and "--jobs must be at least 1" in out.stderr


def test_where_selects_a_subset_of_a_notebooks_runs():
    from maskcl.launch import unique_runs
    from maskcl.profiles import matches, parse_where

    lenet = unique_runs("01", "paper", parse_where("arch=lenet"))
    assert {e.arch for e in lenet} == {"lenet"} and {e.method for e in lenet} >= {"supsup", "upper_bound", "psp"}
    assert len(lenet) < len(unique_runs("01", "paper"))
    assert [e.method for e in unique_runs("01", "paper", parse_where("arch=lenet,method=psp"))] == ["psp"]
    assert matches(lenet[0], {}) and not matches(lenet[0], {"arch": "fc"})
    with pytest.raises(ValueError, match="config field 'colour'"):
        unique_runs("01", "paper", {"colour": "red"})
    with pytest.raises(ValueError, match="no run matches"):
        unique_runs("01", "paper", {"arch": "vgg"})
    with pytest.raises(ValueError, match="FIELD=VALUE"):
        parse_where("arch")


def test_stored_paper_runs_replace_their_curve_and_nothing_else(tmp_path, monkeypatch):
    """A stored paper-profile run of the subset stands in for this profile's run of the same curve (here ImpressLearn's
    stream × density × seed); the other curves run at this profile; a paper run not in the subset is not used."""
    from maskcl import profiles, runs
    from maskcl.paths import results_dir

    monkeypatch.setenv("MASKCL_RESULTS", str(tmp_path))
    paper = {e.stream: e for e in profiles.impresslearn("paper") if e.density == 0.1 and e.seed == 0}
    fake = {"config": {"method": "impresslearn", "stream": "rotated", "density": 0.1, "seed": 0},
            "provenance": {"profile": "paper"}, "rows": []}
    path = runs.result_path(paper["rotated"], results_dir())
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(fake))
    ran = []
    monkeypatch.setattr(runs, "run", lambda e, **kw: ran.append(e) or {"provenance": {"profile": kw["profile"]}})
    curve = ("method", "stream", "density", "seed")
    got = profiles.with_stored_paper_runs(profiles.impresslearn, "quick", None, "density=0.1,seed=0", curve=curve)
    assert [e.stream for e in ran] == ["permuted"] and got[-1] == fake
    ran.clear()
    profiles.with_stored_paper_runs(profiles.impresslearn, "quick", None, "density=0.2", curve=curve)
    assert [e.stream for e in ran] == ["rotated", "permuted"]


def test_stored_paper_runs_of_every_paper_seed_stand_in_for_their_curve(tmp_path, monkeypatch):
    """Notebook 01: this profile runs seed 0; the stored LeNet paper runs of seeds 0, 1, 2 (those the store holds)
    replace the LeNet curves, so the notebook shows their spread."""
    from maskcl import profiles, runs
    from maskcl.paths import results_dir

    monkeypatch.setenv("MASKCL_RESULTS", str(tmp_path))
    for seed in (0, 2):  # seed 1 not stored
        e = next(e for e in profiles.supsup_fig3("paper", seed) if e.arch == "lenet" and e.method == "lower_bound")
        path = runs.result_path(e, results_dir())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"config": {"method": e.method, "arch": "lenet", "out_size": e.out_size, "seed": seed},
                                    "provenance": {"profile": "paper"}, "rows": []}))
    ran = []
    monkeypatch.setattr(runs, "run", lambda e, **kw: ran.append(e) or {"provenance": {"profile": kw["profile"]}})
    got = profiles.with_stored_paper_runs(profiles.supsup_fig3, "quick", [0], "arch=lenet", paper_seeds=[0, 1, 2])
    assert sorted(r["config"]["seed"] for r in got if "config" in r) == [0, 2]
    assert not [e for e in ran if e.arch == "lenet" and e.method == "lower_bound"] and {e.seed for e in ran} == {0}
    assert [e for e in ran if e.method == "supsup" and e.arch == "lenet"]  # other LeNet curves still run here


def test_workers_end_with_their_launcher_even_after_kill_9(tmp_path):
    """A --jobs launcher killed with SIGKILL leaves no worker behind (they would idle on, orphaned)."""
    import signal
    import time

    script = ("import sys; from maskcl.launch import launch; "
              "launch('01', 'smoke', 'cpu', jobs=2, results=sys.argv[1], cache=sys.argv[2])")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MASKCL_PROGRESS": "0"}
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "r"), str(tmp_path / "c")], env=env)
    deadline = time.time() + 60
    children = []
    while time.time() < deadline and not children:
        out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        children = [int(p) for p in out]
        time.sleep(0.2)
    assert children, "the launcher started no workers"
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    def running(pid):  # an exited child whose new parent has not reaped it yet (a zombie) counts as ended
        try:
            return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.time() + 15
    while time.time() < deadline and any(running(p) for p in children):
        time.sleep(0.2)
    alive = [p for p in children if running(p)]
    for p in alive:
        os.kill(p, signal.SIGKILL)
    assert not alive, f"workers {alive} outlived their launcher"
