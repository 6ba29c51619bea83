"""ImpressLearn on the reduced ResNet-18: eq. 1 over conv layers, the hybrid's trainable set, basis-GN on a conv
net, statistics estimated afresh, and resuming a killed run."""
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from maskcl import runs
from maskcl.data import class_split, synthetic_cifar
from maskcl.masks import binary_mask, init_scores
from maskcl.methods import impress, impress_split
from maskcl.nets.init import kaiming_normal
from maskcl.nets.resnet import ResNet, batch_stats, forward, init_stats
from maskcl.scoring import task_accuracy
from maskcl.train import EpochConfig, popup_epochs

TINY = ResNet(n_classes=2, nf=4)
EPOCH = EpochConfig(epochs=1, batch=32, lr=0.01, weight_decay=0.0)


def tiny_stream(n_tasks=5, n_train=64):
    return class_split("synthetic", synthetic_cifar(2 * n_tasks, 0, n_train, 16), n_tasks, 2, 0)


def small(**kw) -> impress_split.ImpressSplitExperiment:
    base = dict(data="synthetic", n_tasks=5, per_task=2, width=4, heterogeneous=(2, 3), homogeneous=(2,), random=(2,),
                n_new=2, basis_gn=3, n_incorrect=2, mask=EPOCH, alpha=replace(EPOCH, lr=0.02, weight_decay=0.1),
                test_limit=40)
    return impress_split.ImpressSplitExperiment(**{**base, **kw})


def test_alpha_over_conv_layers_is_eq1_by_hand():
    g = torch.Generator().manual_seed(0)
    w = kaiming_normal(TINY, 0)
    n = 3
    basis = [torch.rand(n, *s, generator=g) < 0.3 for s in TINY.shapes]
    flat = [b.flatten(1).float() for b in basis]
    alpha = torch.randn(n, len(TINY.shapes), generator=g)
    got = impress_split.as_weights(w, flat, alpha)
    assert len(got) == 21 and [v.shape for v in got] == [torch.Size(s) for s in TINY.shapes]
    for l in range(len(w)):
        want = w[l] * sum(alpha[t, l] * basis[l][t].float() for t in range(n))
        assert torch.allclose(got[l], want, atol=1e-6)
    x = torch.randn(4, 3, 32, 32, generator=g)
    by_hand = [w[l] * sum(alpha[t, l] * basis[l][t].float() for t in range(n)) for l in range(len(w))]
    assert torch.allclose(forward(x, TINY, got), forward(x, TINY, by_hand), atol=1e-5)


def test_the_hybrid_learns_exactly_the_head_scores_and_alpha(monkeypatch):
    stream = tiny_stream()
    exp = small()
    w = kaiming_normal(TINY, 0)
    flat = [b.flatten(1).float() for b in impress.random_basis(TINY, 3, 0.3, seed=0)]
    frozen = [t.clone() for t in w + flat]
    seen = {}
    real = impress_split.fit_epochs

    def spy(stream_, task, params, loss_fn, *args, **kw):
        x, y = stream_.task_data(task, "train", 8)
        for p in params:
            p.grad = None
        loss_fn(x, y).backward()
        seen["params"] = [p.shape for p in params]
        seen["grads"] = [p.grad.clone() for p in params]
        seen["frozen_grad"] = [t.grad for t in w + flat]
        for p in params:
            p.grad = None
        return real(stream_, task, params, loss_fn, *args, **kw)

    monkeypatch.setattr(impress_split, "fit_epochs", spy)
    alpha, stats, head, _ = impress_split.learn_alpha(exp, stream, TINY, w, flat, 3, "k", hybrid=True)
    n_layers = len(TINY.shapes)
    assert seen["params"] == [torch.Size([3, n_layers - 1]), torch.Size(TINY.shapes[-1])]
    assert all(g.abs().sum() > 0 for g in seen["grads"])  # both receive a gradient
    assert all(g is None for g in seen["frozen_grad"])  # W and the basis get none
    assert all(torch.equal(a, b) for a, b in zip(w + flat, frozen))  # and are untouched
    assert alpha.shape == (3, n_layers - 1) and head.shape == TINY.shapes[-1]
    assert not torch.equal(alpha, torch.full_like(alpha, 1 / 3))  # α moved
    start = init_scores(TINY, exp.seed, "k")[-1]
    assert not torch.equal(head, start)  # the head's scores moved
    used = impress_split.as_weights(w, flat, alpha, head, exp.density)
    assert torch.equal(used[-1], w[-1] * binary_mask(head, "topk", exp.density).float())  # a binary head mask
    plain, *_ = impress_split.learn_alpha(exp, stream, TINY, w, flat, 3, "k")
    assert plain.shape == (3, n_layers)


def test_basis_gn_concentrates_on_the_own_mask():
    """α for task 0 over {task 0's trained mask, two random masks}, from the uniform start: most of α's mass, and
    the largest coefficient in most layers, on task 0's mask; as accurate as that mask alone."""
    net = ResNet(n_classes=2, nf=8)
    stream = tiny_stream(n_tasks=2, n_train=100)
    exp = small(n_tasks=2, width=8, heterogeneous=(1,), n_new=1, alpha=EpochConfig(epochs=8, batch=32, lr=0.02,
                                                                                   weight_decay=0.1))
    w = kaiming_normal(net, 0)
    scores = [s.requires_grad_() for s in init_scores(net, 0, 0)]
    own_stats = init_stats(net)
    popup_epochs(stream, net, w, 0, scores, [exp.density] * 21, own_stats,
                 EpochConfig(epochs=3, batch=32, lr=0.01, weight_decay=0.0), 0, "own")
    own = [binary_mask(s, "topk", exp.density) for s in scores]
    alone = task_accuracy(stream, net, [a * m for a, m in zip(w, own)], own_stats, 0, "test")
    rnd = impress.random_basis(net, 2, exp.density, seed=5)
    flat = [torch.cat([o[None], r]).flatten(1).float() for o, r in zip(own, rnd)]
    alpha, stats, _, _ = impress_split.learn_alpha(exp, stream, net, w, flat, 0, "gn")
    assert impress.correct_share(alpha, 0) > 0.45  # uniform: 1/3
    assert float((alpha.abs().argmax(0) == 0).float().mean()) > 0.5
    assert task_accuracy(stream, net, impress_split.as_weights(w, flat, alpha), stats, 0, "test") >= alone


def test_batch_stats_are_torchs_cumulative_average():
    g = torch.Generator().manual_seed(1)
    w = kaiming_normal(TINY, 0)
    xs = [torch.randn(n, 3, 32, 32, generator=g) for n in (8, 5, 8)]
    stats = batch_stats(TINY, w, xs)
    bn = torch.nn.BatchNorm2d(4, affine=False, momentum=None)
    for x in xs:
        bn(F.conv2d(x, w[0], padding=1))
    assert torch.allclose(stats[0][0], bn.running_mean, atol=1e-6)
    assert torch.allclose(stats[0][1], bn.running_var, atol=1e-5)


def test_run_rows_and_a_killed_run_resumes_to_the_same_result(tmp_path, monkeypatch):
    exp = small()
    fresh = runs.run(exp, device="cpu", results=tmp_path / "r1", cache=tmp_path / "c1")
    rows = fresh["rows"]
    kinds = {(r["kind"], r["size"], r["hybrid"], r["role"]) for r in rows}
    assert ("heterogeneous", 3, False, "basis") in kinds and ("heterogeneous", 3, True, "new") in kinds
    assert ("homogeneous", 2, False, "basis") in kinds and ("random", 2, False, "new") in kinds
    assert ("random", 2, True, "new") not in kinds  # hybrids only for the kinds asked
    assert sorted(r["task"] for r in rows if r["kind"] == "SupSup") == [0, 1, 2, 3, 4]
    assert sorted({r["task"] for r in rows if r["kind"] == "incorrect"}) == [3, 4]
    gn = [r for r in rows if r["kind"] == "heterogeneous" and r["role"] == "basis" and r["size"] == 3]
    assert sorted(r["task"] for r in gn) == [0, 1, 2] and all(0 < r["alpha_on_own_mask"] < 1 for r in gn)
    assert fresh["layers"] == 21 and fresh["n_weights"] == ResNet(2, 4).n_weights

    calls, real = [], impress_split.fit_epochs

    def dies(*args, **kw):
        calls.append(1)
        if len(calls) == 6:  # in the middle of the α fits
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(impress_split, "fit_epochs", dies)
    with pytest.raises(KeyboardInterrupt):
        runs.run(exp, device="cpu", results=tmp_path / "r2", cache=tmp_path / "c2")
    assert not list((tmp_path / "r2").glob("*/*.json")), "a killed run must not leave a result"
    monkeypatch.setattr(impress_split, "fit_epochs", real)
    resumed = runs.run(exp, device="cpu", results=tmp_path / "r2", cache=tmp_path / "c2")
    strip = lambda r: {k: v for k, v in r.items() if k != "provenance"}  # noqa: E731
    assert strip(resumed) == strip(fresh)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="unknown data"):
        small(data="imagenet")
    with pytest.raises(ValueError, match="need 8 tasks"):
        small(heterogeneous=(6,))
    with pytest.raises(ValueError, match="hybrid kinds"):
        small(hybrid=("incorrect",))
