"""The task loop: order, resumption after a crash at any task, chunks, one checkpoint layout."""
import pytest
import torch

from maskcl.loop import load_progress, run_jobs, run_tasks
from maskcl.store import Checkpoint


def toy(calls, die_at=None):
    """A method whose task t keeps t·1 and carries the running sum of all tasks so far."""
    def learn(tasks, progress):
        out = []
        for t in tasks:
            if t == die_at:
                raise KeyboardInterrupt
            calls.append(t)
            progress.carry["sum"] = [progress.carry["sum"][0] + t]
            out.append(({"task": t, "sum_before": float(progress.carry["sum"][0] - t)}, {"own": [torch.full((2,), t)]}))
        return out
    return learn


def test_a_run_killed_at_any_task_resumes_to_the_uninterrupted_result(tmp_path):
    start = {"sum": [torch.zeros(())]}
    full = run_tasks(Checkpoint(tmp_path / "full"), 5, toy([]), start)
    assert [r["sum_before"] for r in full.log] == [0, 0, 1, 3, 6] and float(full.carry["sum"][0]) == 10
    for die_at in range(5):
        ckpt, calls = Checkpoint(tmp_path / f"die{die_at}"), []
        with pytest.raises(KeyboardInterrupt):
            run_tasks(ckpt, 5, toy(calls, die_at), start)
        resumed = run_tasks(ckpt, 5, toy(calls), start)
        assert calls == list(range(5)), "every task learned exactly once"
        assert resumed.log == full.log and float(resumed.carry["sum"][0]) == 10
        assert [float(k["own"][0][0]) for k in resumed.kept] == list(range(5))
        assert [p.name for p in ckpt.folder.glob("carry_*")] == ["carry_00005.safetensors"]


def test_chunks_are_learned_together_and_a_resume_may_change_them(tmp_path):
    seen = []

    def learn(tasks, progress):
        seen.append(list(tasks))
        return [({"t": t}, {}) for t in tasks]

    ckpt = Checkpoint(tmp_path / "c")
    run_tasks(ckpt, 3, learn, chunks=[[0, 1, 2]])
    assert seen == [[0, 1, 2]]
    log = run_tasks(ckpt, 5, learn, chunks=[[0], [1, 2, 3], [4]]).log  # tasks 0..2 done: only 3, then 4
    assert seen[1:] == [[3], [4]] and [r["t"] for r in log] == list(range(5))
    with pytest.raises(ValueError, match="cover"):
        run_tasks(Checkpoint(tmp_path / "d"), 3, learn, chunks=[[0, 1]])
    with pytest.raises(ValueError, match="results for"):
        run_tasks(Checkpoint(tmp_path / "e"), 2, lambda tasks, p: [], chunks=[[0, 1]])


def test_load_progress_reads_what_the_loop_wrote(tmp_path):
    ckpt = Checkpoint(tmp_path / "c")
    assert load_progress(ckpt).done == 0
    run_tasks(ckpt, 3, toy([]), {"sum": [torch.zeros(())]})
    back = load_progress(ckpt)
    assert back.done == 3 and float(back.carry["sum"][0]) == 3 and torch.equal(back.kept[2]["own"][0], torch.full((2,), 2))


def test_jobs_run_once_each_and_resume(tmp_path):
    ckpt, calls = Checkpoint(tmp_path / "c"), []

    def compute(label):
        calls.append(label)
        if label == "b" and calls.count("b") == 1:
            raise KeyboardInterrupt
        return {"label": label}

    with pytest.raises(KeyboardInterrupt):
        run_jobs(ckpt, "j", ["a", "b", "c"], compute)
    out = run_jobs(ckpt, "j", ["a", "b", "c"], compute)
    assert calls == ["a", "b", "b", "c"] and list(out) == ["a", "b", "c"] and out["c"] == {"label": "c"}
