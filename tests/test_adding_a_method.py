"""The README's "Adding a method", followed for a toy method: one registered function with its VERSION, run by
the library's runner and task loop — cached, keyed, resumable, stale-checked — with nothing added elsewhere."""
from dataclasses import replace

import pytest
import torch

from maskcl import registry, runs
from maskcl.loop import run_tasks
from maskcl.registry import register
from maskcl.runs import StreamExperiment
from maskcl.train import TrainConfig

VERSION = 1


@pytest.fixture
def majority(monkeypatch):
    """Register the toy method for one test (and take it away after)."""
    monkeypatch.setattr(registry, "METHODS", dict(registry.METHODS))

    @register("majority", version=VERSION, config="StreamExperiment", setup="stream")
    def run(exp, ckpt, stream, net, device) -> dict:
        """Predict each task's most frequent training label (a floor every method must beat)."""
        def learn(tasks, progress):
            t, = tasks
            _, y = stream.task_data(t, "train")
            guess = int(torch.bincount(y).argmax())
            _, y_test = stream.task_data(t, "test", exp.test_limit)
            return [({"accuracy": 100.0 * float((y_test == guess).float().mean()), "label": guess}, {})]

        acc = [r["accuracy"] for r in run_tasks(ckpt, exp.n_tasks, learn, device=device, desc="majority").log]
        return {"rows": [{"method": "Majority", "tasks": k, "accuracy": sum(acc[:k]) / k} for k in exp.checkpoints],
                "per_task": {"Majority": acc}}

    return run


def exp():
    return StreamExperiment(method="majority", arch="lenet", out_size=10, n_tasks=3, checkpoints=(1, 3),
                      train=TrainConfig(steps=1), test_limit=200, dataset="synthetic")


def test_a_registered_method_runs_through_the_runner_cached_and_keyed(tmp_path, majority):
    first = runs.run(exp(), device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    assert [r["tasks"] for r in first["rows"]] == [1, 3] and first["method_version"] == VERSION
    assert all(0 < a < 40 for a in first["per_task"]["Majority"])  # one class of ten: about chance
    assert runs.run(exp(), device="cpu", results=tmp_path / "r", cache=tmp_path / "c") == first  # read back
    assert runs.stale(tmp_path / "r") == []
    with pytest.raises(ValueError, match="configured by StreamExperiment"):
        runs.GGExperiment(method="majority")


def test_a_registered_method_resumes_after_a_crash(tmp_path, majority, monkeypatch):
    full = runs.run(exp(), device="cpu", results=tmp_path / "r1", cache=tmp_path / "c1")
    calls = []
    real = torch.bincount

    def dies_in_task_2(y):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(y)

    with monkeypatch.context() as m:
        m.setattr(torch, "bincount", dies_in_task_2)
        with pytest.raises(KeyboardInterrupt):
            runs.run(exp(), device="cpu", results=tmp_path / "r2", cache=tmp_path / "c2")
    resumed = runs.run(exp(), device="cpu", results=tmp_path / "r2", cache=tmp_path / "c2")
    assert resumed["per_task"] == full["per_task"]
    assert replace(exp(), seed=1) != exp() and runs.key(replace(exp(), seed=1)) != runs.key(exp())
