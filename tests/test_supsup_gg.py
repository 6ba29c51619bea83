"""The reduced ResNet-18, SupSup in scenario GG (ER budget, per-task batch-norm statistics, Transfer), its
baselines and Table 2's byte accounting."""
import math

import pytest
import torch

from maskcl.data import class_split, synthetic_cifar
from maskcl.masks import binary_mask, init_scores
from maskcl.methods import supsup
from maskcl.methods.supsup import er_densities, train_conv_task, transfer_init
from maskcl.nets.init import signed_constant
from maskcl.nets.resnet import ResNet, forward, init_stats
from maskcl.runs import GGExperiment, run
from maskcl.savings import gg_bytes
from maskcl.train import EpochConfig

from .helpers import dies_on_call

TINY = ResNet(n_classes=2, nf=4)


def tiny_stream(n_tasks=2, per_task=2, n_train=64, seed=0):
    return class_split("synthetic", synthetic_cifar(n_tasks * per_task, seed, n_train, 16), n_tasks, per_task, seed)


def test_reduced_resnet18_matches_the_official_sizes():
    net = ResNet()
    assert len(net.shapes) == 21 and len(net.bn_channels) == 20 and sum(net.bn_channels) == 1500
    assert net.n_weights == 1_090_940 and net.shapes[0] == (20, 3, 3, 3) and net.shapes[-1] == (5, 160, 1, 1)
    assert [n for n in net.names if "shortcut" in n] == ["layer2.0.shortcut", "layer3.0.shortcut", "layer4.0.shortcut"]
    w = signed_constant(TINY, 0)
    x = torch.randn(6, 3, 32, 32)
    assert forward(x, TINY, w).shape == (6, 2) and forward(x, TINY, w, head=False).shape == (6, 32)
    with pytest.raises(ValueError, match="running statistics"):
        forward(x, TINY, w, train=False)


def test_er_densities_follow_the_official_formula():
    net = ResNet()
    d1, d32 = er_densities(net, 1), er_densities(net, 32)
    assert d1[0] == pytest.approx((20 + 3) / (20 * 3 * 9))
    assert d1[-1] == pytest.approx((5 + 160) / (5 * 160))
    assert d32[0] == 0.5 and d32[-1] == 0.5  # capped at one half
    assert all(a <= b for a, b in zip(d1, d32))
    scores = init_scores(net, 0, 0)
    for s, d in zip(scores, d1):  # top-k keeps exactly ⌈ρ_l·n_l⌉ of each whole layer
        assert int(binary_mask(s, "topk", d).sum()) == math.ceil(d * s.numel())


def test_training_one_task_leaves_another_tasks_statistics_untouched():
    stream = tiny_stream()
    w = signed_constant(TINY, 0)
    dens = er_densities(TINY, 2)
    cfg = EpochConfig(epochs=1, batch=32)
    _, stats0, _, _ = train_conv_task(stream, TINY, w, 0, init_scores(TINY, 0, 0), dens, cfg, 0)
    before = [s.clone() for s in stats0]
    assert not all(torch.equal(s, f) for s, f in zip(stats0, init_stats(TINY)))  # task 0 moved its own
    _, stats1, _, _ = train_conv_task(stream, TINY, w, 1, init_scores(TINY, 0, 1), dens, cfg, 0)
    assert all(torch.equal(a, b) for a, b in zip(stats0, before))
    assert not all(torch.equal(a, b) for a, b in zip(stats0, stats1))


def test_transfer_starts_from_the_running_mean_of_earlier_scores():
    g = torch.Generator().manual_seed(0)
    scores = [[torch.randn(6, 5, generator=g), torch.randn(4, 6, generator=g)] for _ in range(3)]
    total = [sum(s[l] for s in scores) for l in range(2)]
    plain = transfer_init(total, 3)
    assert all(torch.allclose(p, sum(s[l] for s in scores) / 3) for l, p in enumerate(plain))
    fresh = [torch.rand(6, 5, generator=g), torch.rand(4, 6, generator=g)]
    scaled = transfer_init(total, 3, fresh)
    for p, s, f in zip(plain, scaled, fresh):  # same direction (same starting mask), a fresh draw's norm
        assert torch.allclose(s.norm(), f.norm()) and torch.allclose(s / s.norm(), p / p.norm())
        assert torch.equal(binary_mask(s, "topk", 0.3), binary_mask(p, "topk", 0.3))


def test_transfer_run_resumes_with_its_score_sum(tmp_path, monkeypatch):
    exp = GGExperiment(data="synthetic", n_tasks=3, per_task=2, width=4, sparsity=4, transfer=True,
                       train=EpochConfig(epochs=2, batch=32, augment=False), test_limit=40)
    full = run(exp, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    # killed in task 2: resuming after task 1 must start task 2 from the sum over tasks 0 and 1
    with monkeypatch.context() as m:
        dies_on_call(m, supsup, "train_conv_task", 3)
        with pytest.raises(KeyboardInterrupt):
            run(exp, device="cpu", results=tmp_path / "r2", cache=tmp_path / "c2")
    resumed = run(exp, device="cpu", results=tmp_path / "r2", cache=tmp_path / "c2")
    assert resumed["per_task"] == full["per_task"]


def test_gg_run_learns_records_curves_and_resumes(tmp_path, monkeypatch):
    exp = GGExperiment(data="synthetic", n_tasks=2, per_task=2, width=4, sparsity=4, train=EpochConfig(epochs=6, batch=16, augment=False),
                       test_limit=40, curves=True)
    full = run(exp, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    assert full["rows"][0]["accuracy"] > 75  # chance is 50
    assert [len(c) for c in full["curves"]] == [6, 6]
    # killed in the second task, then resumed: the same result as the uninterrupted run
    with monkeypatch.context() as m:
        dies_on_call(m, supsup, "train_conv_task", 2)
        with pytest.raises(KeyboardInterrupt):
            run(exp, device="cpu", results=tmp_path / "r2", cache=tmp_path / "c2")
    resumed = run(exp, device="cpu", results=tmp_path / "r2", cache=tmp_path / "c2")
    assert resumed["per_task"] == full["per_task"] and resumed["curves"] == full["curves"]


@pytest.mark.parametrize("method, rand_w", [("upper_bound_gg", False), ("separate_heads", False),
                                            ("separate_heads", True), ("batche_gg", False), ("batche_gg", True)])
def test_baselines_learn_above_chance(tmp_path, method, rand_w):
    exp = GGExperiment(method=method, rand_w=rand_w, data="synthetic", n_tasks=2, per_task=2, width=4,
                       train=EpochConfig(epochs=6, batch=16, augment=False), test_limit=40)
    res = run(exp, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    assert res["rows"][0]["method"].endswith("Rand W") == rand_w
    assert res["rows"][0]["accuracy"] > 60


def test_table2_bytes_reproduce_the_paper_where_an_accounting_exists():
    net = ResNet()
    rows = gg_bytes(net, 20, {k: er_densities(net, k) for k in (1, 2, 4, 8, 16, 32)})
    by = {(r["method"], r.get("sparsity")): r for r in rows}
    for m in ("Upper Bound", "Separate Heads", "Separate Heads - Rand W", "BatchE (GG)", "BatchE (GG) - Rand W"):
        assert by[(m, None)]["paper_rule"] == by[(m, None)]["paper"]
    assert by[("Separate Heads", None)]["ours"] == 4_544_560 and by[("Upper Bound", None)]["paper"] == 89_675_200
    # SupSup: 1 bit per weight for all 21 layers plus 1,500 statistics per task, for every k
    assert by[("SupSup (GG)", 1)]["ours"] == 20 * (sum(math.ceil(math.prod(s) / 8) for s in net.shapes) + 6000)
    bound = [by[("SupSup (GG)", k)]["entropy bound"] for k in (1, 2, 4, 8, 16, 32)]
    assert bound == sorted(bound) and bound[-1] < by[("SupSup (GG)", 32)]["ours"]
