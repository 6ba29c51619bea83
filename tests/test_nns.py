import pytest
import torch

from maskcl import runs
from maskcl.methods import nns
from maskcl.nets.init import signed_constant
from maskcl.nets.mlp import MLP
from maskcl.store import Checkpoint
from maskcl.train import TrainConfig

from .helpers import synthetic_stream

NET = MLP((784, 128, 64, 50))


def experiment(n_tasks, checkpoints):
    return runs.StreamExperiment(method="nns", n_tasks=n_tasks, checkpoints=checkpoints, train=TrainConfig(steps=300),
                           dataset="synthetic")


def test_identical_candidates_are_uncertain_and_the_budget_caps_allocation():
    w = signed_constant(NET, 0)
    same = [torch.ones(6, o, i, dtype=torch.bool) for o, i in NET.shapes]
    x = torch.rand(16, 784)
    j, new, conf = nns.decide(w, same, 3, x)
    assert new and j == 3 and abs(conf - 1.0) < 1e-4  # uniform ν: K · max ν = 1 < 1 + ε
    j, new, _ = nns.decide(w, same, 3, x, nns.NNsConfig(budget=3))
    assert not new and 0 <= j < 3


def test_nns_allocates_one_mask_per_new_task_without_task_labels(tmp_path):
    stream = synthetic_stream("permuted", 4, n_train=2000)
    out = nns.run(experiment(4, (4,)), Checkpoint(tmp_path), stream, NET, torch.device("cpu"))
    used = {t: {d[0] for d in out["decisions"][str(t)]} for t in range(4)}
    for t in range(1, 4):
        assert out["decisions"][str(t)][0][1] == 1  # unseen data: the first decision allocates
    assert all(used[a].isdisjoint(used[b]) for a in range(4) for b in range(a + 1, 4))  # no task reuses another's mask
    assert out["rows"][0]["masks_allocated"] <= 8
    assert out["rows"][0]["accuracy"] > 90


def test_nns_resumes_exactly(tmp_path):
    stream = synthetic_stream("permuted", 3, n_train=2000)
    cpu = torch.device("cpu")
    nns.run(experiment(2, (2,)), Checkpoint(tmp_path / "a"), stream, NET, cpu)  # "killed" after 2 tasks
    resumed = nns.run(experiment(3, (3,)), Checkpoint(tmp_path / "a"), stream, NET, cpu)
    fresh = nns.run(experiment(3, (3,)), Checkpoint(tmp_path / "b"), stream, NET, cpu)
    assert resumed["decisions"] == fresh["decisions"]
    assert resumed["rows"][-1] == fresh["rows"][-1]
    a, b = Checkpoint(tmp_path / "a"), Checkpoint(tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "b").glob("mask_*.safetensors"))
    assert names and names == sorted(p.name for p in (tmp_path / "a").glob("mask_*.safetensors"))
    for name in names:
        ta, tb = a.load_tensors(name), b.load_tensors(name)
        assert all(torch.equal(ta[n], tb[n]) for n in tb)


def test_evaluate_scores_each_test_batch_with_the_mask_inferred_from_its_first_image(monkeypatch):
    """NNs has no task labels: a batch counts with whatever allocated mask one-shot picks from its first image."""
    from maskcl.infer import batch_correct

    stream = synthetic_stream("permuted", 2, n_train=64, n_test=300)
    w = signed_constant(NET, 0)
    masks = [torch.rand(3, o, i, generator=torch.Generator().manual_seed(l)) > 0.5 for l, (o, i) in enumerate(NET.shapes)]
    exp = experiment(2, (2,))
    picks = []

    def one_shot(weights, sub, first_images, objective):
        assert objective == "H" and first_images.shape[1] == 1  # one image per batch
        assert all(m.shape[0] == 2 for m in sub)  # only the k = 2 allocated masks compete
        picks.append(torch.arange(len(first_images)) % 2)  # batches alternate between masks 0 and 1
        return picks[-1]

    monkeypatch.setattr(nns, "one_shot", one_shot)
    mean, accs = nns.evaluate(stream, w, masks, k=2, tasks=2, exp=exp)
    for t in range(2):
        x, y = stream.task_data(t, "test", exp.test_limit)
        by_mask = [batch_correct(w, [m[j] for m in masks], x, y, exp.test_batch) for j in range(2)]
        expected = sum(float(by_mask[int(j)][b]) for b, j in enumerate(picks[t])) / len(y) * 100
        assert accs[t] == pytest.approx(expected)
    assert mean == pytest.approx(sum(accs) / 2) and len(picks) == 2 and len(picks[0]) == 3  # 300 images: 3 batches
