import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from maskcl import profiles
from maskcl.runs import StreamExperiment, check_profile, resolve_device, result_path, run
from maskcl.store import config_key
from maskcl.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
TINY = StreamExperiment(arch="lenet", out_size=20, n_tasks=3, checkpoints=(2, 3), train=TrainConfig(steps=20, batch=32),
                  test_limit=256, dataset="synthetic", chunk=3)


def test_result_is_cached_and_records_provenance(tmp_path):
    first = run(TINY, profile="smoke", device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    path = result_path(TINY, tmp_path / "r")
    stamp = path.stat().st_mtime_ns
    again = run(TINY, profile="smoke", device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    assert again == first and path.stat().st_mtime_ns == stamp
    prov = first["provenance"]
    for field in ("profile", "device", "torch", "torchvision", "python", "wall_s", "finished"):
        assert field in prov
    assert prov["profile"] == "smoke" and first["config"]["seed"] == 0
    methods = {r["method"] for r in first["rows"]}
    assert {"SupSup (GG)", "SupSup (GNu H)", "SupSup (GNu G)", "SupSup (GNu H, full batch)"} <= methods


def test_chunk_is_not_part_of_the_key_and_does_not_change_results(tmp_path):
    seq = replace(TINY, chunk=1)
    assert config_key("supsup", seq, 1) == config_key("supsup", TINY, 1)
    assert config_key("supsup", replace(TINY, seed=1), 1) != config_key("supsup", TINY, 1)
    a = run(seq, device="cpu", results=tmp_path / "a", cache=tmp_path / "ca")
    b = run(TINY, device="cpu", results=tmp_path / "b", cache=tmp_path / "cb")
    assert a["rows"] == b["rows"] and a["per_task"] == b["per_task"]


@pytest.mark.parametrize("method", ["upper_bound", "lower_bound"])
def test_bounds_run(tmp_path, method):
    res = run(replace(TINY, method=method, out_size=10), device="cpu", results=tmp_path, cache=tmp_path)
    assert [r["tasks"] for r in res["rows"]] == [2, 3]
    assert all(r["accuracy"] > 50 for r in res["rows"])  # 10 classes: chance is 10 %; the synthetic digits are easy


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="unknown method"):
        StreamExperiment(method="ewc")
    with pytest.raises(ValueError, match="checkpoints"):
        StreamExperiment(n_tasks=5, checkpoints=(10,))
    with pytest.raises(ValueError, match="unknown profile"):
        check_profile("fast")
    with pytest.raises(ValueError, match="unknown profile"):
        profiles.supsup_fig3("fast")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            resolve_device("cuda")


def test_profiles_paper_is_the_paper_protocol():
    exps = profiles.supsup_fig3("paper")
    assert {(e.method, e.arch, e.out_size) for e in exps} == {
        ("supsup", "lenet", 100), ("supsup", "fc", 200), ("supsup", "fc", 500),
        ("upper_bound", "lenet", 10), ("lower_bound", "lenet", 10),
        ("upper_bound", "fc", 10), ("lower_bound", "fc", 10), ("psp", "lenet", 10), ("psp", "fc", 10),
        ("batche", "lenet", 10), ("batche", "fc", 10)}
    for e in exps:
        assert e.n_tasks == 250 and e.checkpoints == (10, 50, 100, 150, 200, 250)
        assert (e.train.steps, e.train.batch, e.train.lr, e.train.mask) == (1000, 128, 1e-4, "threshold")
        assert e.test_limit is None and e.dataset == "mnist" and e.decide == ("first", "full")
    quick_lenet = [e for e in profiles.supsup_fig3("quick") if e.arch == "lenet"]
    assert all(e.train.steps == 1000 and e.n_tasks == 10 for e in quick_lenet)
    table8 = profiles.supsup_fig6("paper")
    assert {(e.arch, e.out_size) for e in table8 if e.method == "supsup"} == {
        (a, s) for a in ("lenet", "fc") for s in (25, 100, 200)}
    assert all(e.n_tasks == 250 and e.objectives == ("H", "G") for e in table8 if e.method == "supsup")


RUNNER = """
import sys
from dataclasses import replace
from maskcl.runs import StreamExperiment, run
from maskcl.train import TrainConfig
exp = StreamExperiment(arch="lenet", out_size=20, n_tasks=5, checkpoints=(5,), train=TrainConfig(steps=200, batch=64),
                 test_limit=256, dataset="synthetic", chunk=1)
run(exp, device="cpu", results=sys.argv[1], cache=sys.argv[2])
"""


def test_killed_run_resumes_from_its_checkpoints(tmp_path):
    results, cache = tmp_path / "r", tmp_path / "c"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(results), str(cache)], env=env)
    deadline = time.time() + 600  # generous: a loaded machine trains slowly
    done = []
    while time.time() < deadline and proc.poll() is None:
        idx = list(cache.glob("ckpt/*/masks/progress.json"))
        if idx:
            done = [f"masks/task_{t:05d}.safetensors" for t in range(len(json.loads(idx[0].read_text())["log"]))]
            if len(done) >= 2:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= len(done) < 5, "the run should have been killed mid-way"
    assert not list(results.glob("*/*.json")), "a killed run must not leave a result"
    ckpt = next(cache.glob("ckpt/*"))
    stamps = {n: (ckpt / n).stat().st_mtime_ns for n in done}
    exp = StreamExperiment(arch="lenet", out_size=20, n_tasks=5, checkpoints=(5,), train=TrainConfig(steps=200, batch=64),
                     test_limit=256, dataset="synthetic", chunk=1)
    resumed = run(exp, device="cpu", results=results, cache=cache)
    assert {n: (ckpt / n).stat().st_mtime_ns for n in done} == stamps  # finished tasks were not retrained
    fresh = run(exp, device="cpu", results=tmp_path / "r2", cache=tmp_path / "c2")
    assert resumed["per_task"] == fresh["per_task"] and resumed["rows"] == fresh["rows"]


def test_options_added_later_keep_old_keys():
    """`gammas` only enters the key when set, so results stored before it existed keep their keys."""
    from maskcl.store import config_dict, config_key

    plain = StreamExperiment()
    assert "gammas" not in config_dict(plain)
    with_gammas = StreamExperiment(inference="binary", gammas=(0.1,))
    assert config_dict(with_gammas)["gammas"] == [0.1]
    assert config_key("supsup", with_gammas, 1) != config_key("supsup", StreamExperiment(inference="binary"), 1)


def test_settings_that_were_module_constants_are_key_fields_that_keep_old_keys():
    """BatchE's and the GG baselines' learning rates, NNs' allocation, KKT's batching: the default leaves the
    key as it was before the setting became a field; any other value is another run."""
    from maskcl.methods.batche import BatchEConfig
    from maskcl.methods.gg_baselines import BaselineLRs
    from maskcl.methods.nns import NNsConfig
    from maskcl.runs import CLExperiment, GGExperiment
    from maskcl.store import config_dict

    for exp, name, other in [(StreamExperiment(method="batche"), "batche", BatchEConfig(lr=0.1)),
                             (StreamExperiment(method="nns"), "nns", NNsConfig(budget=10)),
                             (GGExperiment(method="separate_heads"), "baseline_lrs", BaselineLRs(head=0.1)),
                             (CLExperiment(), "kkt_batch", 32)]:
        assert name not in config_dict(exp)
        assert config_key(exp.method, replace(exp, **{name: other}), 1) != config_key(exp.method, exp, 1)


def test_bumping_a_method_version_misses_the_cache_and_marks_old_results_stale(tmp_path, monkeypatch):
    from maskcl import registry, runs

    results, cache = tmp_path / "r", tmp_path / "c"
    old = run(TINY, device="cpu", results=results, cache=cache)
    assert old["method_version"] == runs.version("supsup") and runs.stale(results) == []
    m = registry.METHODS["supsup"]
    monkeypatch.setitem(registry.METHODS, "supsup", replace(m, version=m.version + 1))
    assert result_path(TINY, results).stem != old["key"]  # the old result is no longer found ...
    assert [line.split(":")[0] for line in runs.stale(results)] == [str(results / "supsup" / f"{old['key']}.json")]
    new = run(TINY, device="cpu", results=results, cache=cache)  # ... so the run is computed again
    assert new["key"] != old["key"] and new["method_version"] == old["method_version"] + 1
    assert new["per_task"] == old["per_task"]  # (nothing changed in the code here)


def test_seeds_other_than_0_on_permuted_mnist_miss_results_of_the_old_permutation_rule(tmp_path):
    """Task i of seed s was permutation s + i; results made under that rule must not be found or pass as fresh."""
    from maskcl import runs
    from maskcl.store import config_dict, key_of, write_json

    for exp, moved in ((TINY, False), (replace(TINY, seed=1), True), (replace(TINY, seed=1, stream="rotated"), False)):
        old_key = key_of("supsup", config_dict(exp), runs.version("supsup"))  # the key before the rule changed
        assert (runs.key(exp) != old_key) == moved
        write_json(tmp_path / "supsup" / f"{old_key}.json", {"experiment": "supsup", "config": config_dict(exp),
                                                              "method_version": runs.version("supsup")})
    assert [line.split(": ")[1] for line in runs.stale(tmp_path)] == ["file name is not the key of its config"]


def test_from_results_names_stale_results_instead_of_plotting(tmp_path):
    store = tmp_path / "results"
    res = run(TINY, device="cpu", results=store, cache=tmp_path / "c")
    path = store / "supsup" / f"{res['key']}.json"
    path.write_text(json.dumps({**res, "method_version": 0}))
    env = {**os.environ, "MASKCL_PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(["bash", str(ROOT / "reproduce.sh"), "--no-setup", "--results", str(store), "--only", "01"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 3, out.stderr
    assert str(path) in out.stderr and "version 0" in out.stderr and "Executing" not in out.stderr


def test_bf16_is_an_option_that_learns_and_leaves_fp32_keys_alone(tmp_path):
    """precision='bfloat16' enters the key only when set (fp32 results keep theirs), is refused where it is not
    offered, and trains masks that still solve the tiny stream."""
    from maskcl.store import config_dict

    assert "precision" not in config_dict(TINY)
    with pytest.raises(ValueError, match="precision"):
        replace(TINY, precision="float16")
    with pytest.raises(ValueError, match="SupSup runs only"):
        replace(TINY, method="upper_bound", precision="bfloat16")
    bf16 = replace(TINY, train=TrainConfig(steps=100, batch=64), precision="bfloat16")
    fp32 = replace(bf16, precision="float32")
    got = {e.precision: {r["method"]: r["accuracy"] for r in run(e, device="cpu", results=tmp_path / "r",
                                                               cache=tmp_path / "c")["rows"] if r["tasks"] == 3}
           for e in (fp32, bf16)}
    assert got["float32"]["SupSup (GG)"] > 90 and got["bfloat16"]["SupSup (GG)"] > 90
    assert abs(got["bfloat16"]["SupSup (GNu H)"] - got["float32"]["SupSup (GNu H)"]) < 10
