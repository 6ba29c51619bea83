"""ExSSNeT's building blocks: free-mask algebra, sparse overlap (eq. 2), exclusive weight training, KNN and KKT."""
import torch
import torch.nn.functional as F

from maskcl.methods.exssnet import exclusive_weight, free_mask, kkt_source, knn_predict, sparse_overlap
from maskcl.nets.mlp import forward


def b(values):
    return torch.tensor(values, dtype=torch.bool)


def test_free_mask_and_sparse_overlap_on_hand_made_masks():
    m1 = [b([1, 1, 0, 0]), b([1, 0])]
    m2 = [b([0, 1, 1, 0]), b([0, 1])]
    m3 = [b([1, 1, 1, 1]), b([1, 1])]
    assert [f.tolist() for f in free_mask(m1, [])] == [m.tolist() for m in m1]
    assert [f.tolist() for f in free_mask(m2, [m1])] == [[False, False, True, False], [False, True]]
    free3 = free_mask(m3, [m1, m2])
    assert [f.tolist() for f in free3] == [[False, False, False, True], [False, False]]
    assert sparse_overlap(m2, free_mask(m2, [m1])) == 1 / 3  # one of M2's three weights was used by M1
    assert sparse_overlap(m3, free3) == 5 / 6


def test_exclusive_training_leaves_earlier_tasks_bit_identical_and_ssnet_does_not():
    """Two tasks share some weights; training task 2 exclusively changes no output of task 1's subnetwork, while
    training every weight of M2 (SSNeT) does."""
    g = torch.Generator().manual_seed(0)
    shapes = [(16, 8), (3, 16)]
    w0 = [torch.randn(*s, generator=g) for s in shapes]
    m1 = [torch.rand(*s, generator=g) < 0.5 for s in shapes]
    m2 = [torch.rand(*s, generator=g) < 0.5 for s in shapes]
    x, y = torch.randn(32, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
    before = forward(x, [w * m for w, m in zip(w0, m1)])
    assert sparse_overlap(m2, free_mask(m2, [m1])) > 0
    for exclusive in (True, False):
        w = [t.clone().requires_grad_() for t in w0]
        free = free_mask(m2, [m1]) if exclusive else [None, None]
        opt = torch.optim.SGD(w, lr=0.5)
        for _ in range(5):
            loss = F.cross_entropy(forward(x, [exclusive_weight(a, m, f) for a, m, f in zip(w, m2, free)]), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        after = forward(x, [a.detach() * m for a, m in zip(w, m1)])
        assert torch.equal(after, before) == exclusive
        changed = [(a.detach() != b_) for a, b_ in zip(w, w0)]
        if exclusive:  # only free weights moved
            assert all(bool((c & ~f).sum() == 0) for c, f in zip(changed, free_mask(m2, [m1])))


def test_knn_matches_a_brute_force_reference():
    g = torch.Generator().manual_seed(1)
    tx, ty = torch.randn(40, 5, generator=g), torch.randint(0, 3, (40,), generator=g)
    qx = torch.randn(25, 5, generator=g)
    for k in (1, 3, 7):
        got = knn_predict(tx, ty, qx, k, 3)
        for i, q in enumerate(qx):
            order = sorted(range(40), key=lambda j: float(((tx[j] - q) ** 2).sum()))[:k]
            votes = [sum(int(ty[j]) == c for j in order) for c in range(3)]
            top = [c for c in range(3) if votes[c] == max(votes)]
            if len(top) == 1:
                assert int(got[i]) == top[0]
            else:  # a tie goes to the class whose neighbours are nearer in total
                near = {c: sum(float(((tx[j] - q) ** 2).sum().sqrt()) for j in order if int(ty[j]) == c) for c in top}
                assert int(got[i]) == min(near, key=near.get)


def test_kkt_picks_the_task_that_explains_a_relabelled_task_and_falls_back_otherwise():
    """The new task relabels an old one: only that old task's features separate its classes."""
    g = torch.Generator().manual_seed(2)
    y = torch.randint(0, 2, (80,), generator=g)
    noise = lambda: torch.randn(80, 6, generator=g)  # noqa: E731
    useful = noise() + 4.0 * F.one_hot(y, 6).float()
    source, knn = kkt_source([noise(), useful, noise()], y, n_train=60, k=5, n_classes=2)
    assert source == 1 and knn[1] > 0.9 and max(knn[0], knn[2]) < 0.6
    constant = torch.zeros(80, 6)  # every sample the same: the KNN votes one class, which is not above chance
    balanced = torch.arange(80) % 2
    assert kkt_source([constant], balanced, n_train=60, k=5, n_classes=2) == (None, [0.5])
    assert kkt_source([], y, n_train=60, k=5, n_classes=2) == (None, [])


# --- the runner: SupSup / SSNeT / ExSSNeT ± KKT and the dense rows on a small synthetic class split ---------------
from dataclasses import replace  # noqa: E402

import pytest  # noqa: E402

from maskcl import runs, setups  # noqa: E402
from maskcl.data import class_split, hold_out, synthetic_mnist  # noqa: E402
from maskcl.masks import unpack_bits  # noqa: E402
from maskcl.nets.mlp import MLP  # noqa: E402
from maskcl.store import Checkpoint  # noqa: E402
from maskcl.train import EpochConfig  # noqa: E402

EPOCH = EpochConfig(epochs=2, batch=32, lr=0.01, weight_decay=0.0, augment=False)


def small(variant="exssnet", **kw):
    weights = replace(EPOCH, lr=0.01, epochs=0 if variant == "supsup" else 2)
    return runs.CLExperiment(variant=variant, data="synthetic_mnist", n_tasks=3, mask=EPOCH, weights=weights,
                             train_limit=128, test_limit=100, **kw)


def subnet_logits(exp, cache, task, after):
    """Task `task`'s logits on its test rows with its own mask (and statistics) and W as it was after task
    `after` (the W a run of tasks 0..after ends with), read back from the runs' checkpoints."""
    import math

    from maskcl.loop import load_progress
    from maskcl.nets.resnet import ResNet

    if exp.data == "synthetic":
        net = ResNet(exp.per_task, exp.width)
        stream = class_split("synthetic", setups.image_data("synthetic", exp.seed), exp.n_tasks, exp.per_task, exp.seed,
                             "cpu", exp.val_fraction)
    else:
        net = MLP((784, 300, 100, exp.per_task))
        stream = class_split(exp.data, synthetic_mnist(exp.seed), exp.n_tasks, exp.per_task, exp.seed, "cpu",
                             exp.val_fraction, (0.1307,), (0.3081,))
    saved = load_progress(Checkpoint(cache / "ckpt" / runs.key(exp))).kept[task]
    mask = [unpack_bits(p, math.prod(s)).view(s) for p, s in zip(saved["layer"], net.shapes)]
    shorter = replace(exp, n_tasks=after + 1)
    runs.run(shorter, device="cpu", results=cache / "shorter", cache=cache)
    w = load_progress(Checkpoint(cache / "ckpt" / runs.key(shorter))).carry["weights"]
    x, _ = stream.task_data(task, "test", exp.test_limit)
    return net.forward(x, [a * m for a, m in zip(w, mask)], saved["stats"], train=False)


def test_exssnet_runs_keep_earlier_tasks_bit_identical_and_ssnet_runs_do_not(tmp_path):
    """End to end: after two later tasks, task 1's logits under ExSSNeT are bit for bit those right after it was
    learned (and its column of the accuracy matrix never moves); SSNeT's change, since its masks overlap."""
    for variant in ("exssnet", "ssnet"):
        exp = small(variant)
        res = runs.run(exp, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
        assert res["sparse_overlap"][0] == 0 and all(0 < so < 1 for so in res["sparse_overlap"][1:])
        same = torch.equal(subnet_logits(exp, tmp_path / "c", 0, 0), subnet_logits(exp, tmp_path / "c", 0, 2))
        assert same == (variant == "exssnet")
        if variant == "exssnet":
            assert {r[0] for r in res["accuracy_rows"]} == {res["accuracy_rows"][0][0]}
            assert res["rows"][0]["forgetting"] == 0.0


def test_exssnet_on_the_conv_net_keeps_each_tasks_statistics_and_predictions(tmp_path, monkeypatch):
    """The same on the reduced ResNet-18 (width 4) over synthetic images that it learns well above chance:
    task 1's logits bit-identical after task 2 trained its free weights (SSNeT moves them); in memory, every
    evaluation of a task uses that task's own batch-norm statistics, unchanged since it was learned, so task 1's
    column of the accuracy matrix never moves."""
    from maskcl.methods import exssnet

    used = {}  # task → the statistics of every evaluation of it, as they were then
    score = exssnet._score

    def recording(stream, net, weights, mask, stats, task, split, limit=None):
        if split == "test":
            used.setdefault(task, []).append([s.clone() for s in stats])
        return score(stream, net, weights, mask, stats, task, split, limit)

    monkeypatch.setattr(exssnet, "_score", recording)
    fast = replace(EPOCH, epochs=2, lr=0.1)
    for variant in ("exssnet", "ssnet"):
        used.clear()
        exp = runs.CLExperiment(variant=variant, data="synthetic", n_tasks=2, per_task=2, width=4,
                                mask=fast, weights=fast, test_limit=40)
        res = runs.run(exp, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
        assert res["accuracy_rows"][0][0] >= 80 and res["accuracy_rows"][1][1] >= 70  # it learns (chance: 50)
        first, later = used[0]
        assert all(torch.equal(a, b) for a, b in zip(first, later))  # task 1's statistics, untouched by task 2
        assert not all(torch.equal(a, b) for a, b in zip(first, used[1][0]))  # … and not task 2's
        same = torch.equal(subnet_logits(exp, tmp_path / "c", 0, 0), subnet_logits(exp, tmp_path / "c", 0, 1))
        assert same == (variant == "exssnet")
        if variant == "exssnet":
            assert res["accuracy_rows"][1][0] == res["accuracy_rows"][0][0]


def test_kkt_starts_later_masks_from_an_earlier_task_and_raises_their_overlap(tmp_path):
    plain = runs.run(small("supsup"), device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    kkt = runs.run(small("supsup", kkt=True, kkt_batches=2, kkt_k=5), device="cpu", results=tmp_path / "r",
                   cache=tmp_path / "c")
    assert plain["kkt"][1]["source"] is None and plain["kkt"][1]["knn_accuracy"] == []
    assert kkt["kkt"][0] == {"source": None, "knn_accuracy": []}  # task 1 has nothing to transfer from
    assert [len(k["knn_accuracy"]) for k in kkt["kkt"]] == [0, 1, 2]  # one KNN per earlier task
    assert all(k["source"] is not None for k in kkt["kkt"][1:])  # synthetic classes separate in any subnetwork
    assert kkt["rows"][0]["sparse_overlap"] > plain["rows"][0]["sparse_overlap"] + 10
    assert plain["rows"][0]["forgetting"] == kkt["rows"][0]["forgetting"] == 0.0


def test_a_killed_exssnet_run_resumes_to_the_same_result(tmp_path, monkeypatch):
    exp = small("exssnet", kkt=True, kkt_batches=2, kkt_k=5)
    fresh = runs.run(exp, device="cpu", results=tmp_path / "r1", cache=tmp_path / "c1")
    from maskcl import train
    from maskcl.methods import exssnet

    calls, real = [], train.fit_epochs

    def dies_in_task_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # task 3's mask phase (two phases per task)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(exssnet, "fit_epochs", dies_in_task_3)  # the weight phase
    monkeypatch.setattr(train, "fit_epochs", dies_in_task_3)  # the mask phase (train.popup_epochs)
    with pytest.raises(KeyboardInterrupt):
        runs.run(exp, device="cpu", results=tmp_path / "r2", cache=tmp_path / "c2")
    assert not list((tmp_path / "r2").glob("*/*.json")), "a killed run must not leave a result"
    monkeypatch.setattr(exssnet, "fit_epochs", real)
    monkeypatch.setattr(train, "fit_epochs", real)
    resumed = runs.run(exp, device="cpu", results=tmp_path / "r2", cache=tmp_path / "c2")
    assert {k: v for k, v in resumed.items() if k != "provenance"} == {k: v for k, v in fresh.items() if k != "provenance"}


@pytest.mark.parametrize("variant", ["naive", "individual", "multitask"])
def test_dense_rows_run_and_resume(tmp_path, variant):
    exp = runs.CLExperiment(method="dense_cl", variant=variant, data="synthetic_mnist", n_tasks=3, weights=EPOCH,
                            train_limit=128, test_limit=100)
    res = runs.run(exp, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    rows = res["accuracy_rows"]
    assert [len(r) for r in rows] == ([3] if variant == "multitask" else [1, 2, 3])
    assert res["rows"][0]["accuracy"] == pytest.approx(sum(rows[-1]) / 3)
    if variant == "individual":  # each net is trained once and never touched again
        assert res["rows"][0]["forgetting"] == 0.0 and rows[2][:2] == rows[1]


def test_cl_experiment_rejects_bad_configs():
    with pytest.raises(ValueError, match="variant"):
        runs.CLExperiment(variant="exssnt")
    with pytest.raises(ValueError, match="SupSup trains no weights"):
        runs.CLExperiment(variant="supsup")  # default weights config has epochs
    with pytest.raises(ValueError, match="KKT"):
        runs.CLExperiment(method="dense_cl", variant="naive", kkt=True)
    with pytest.raises(ValueError, match="unknown data"):
        runs.CLExperiment(data="fashion")


def test_hold_out_takes_the_same_fraction_of_every_class_disjointly():
    data = synthetic_mnist(0, 1000, 100)
    split = hold_out(data, 0.2, seed=3)
    (xt, yt), (xv, yv) = split["train"], split["val"]
    assert len(yt) + len(yv) == 1000
    for c in range(10):
        n = int((data["train"][1] == c).sum())
        assert int((yv == c).sum()) == int(0.2 * n)
    assert torch.equal(hold_out(data, 0.2, seed=3)["val"][0], xv)  # seeded
    assert not torch.equal(hold_out(data, 0.2, seed=4)["val"][0], xv)
    rows = {tuple(r.tolist()) for r in data["train"][0]}
    assert all(tuple(r.tolist()) in rows for r in xv[:20])


def test_mlp_features_are_the_penultimate_layer_before_its_relu():
    g = torch.Generator().manual_seed(0)
    w = [torch.randn(8, 6, generator=g), torch.randn(5, 8, generator=g), torch.randn(2, 5, generator=g)]
    x = torch.randn(4, 6, generator=g)
    feats = forward(x, w, head=False)
    assert torch.allclose(feats, torch.relu(x @ w[0].T) @ w[1].T)
    assert torch.allclose(forward(x, w), torch.relu(feats) @ w[2].T)
    assert (feats < 0).any()  # not rectified


def test_exclusive_weight_is_bit_for_bit_the_detached_sum():
    """The one-pass exclusive weight equals the two-term autograd form in value and in its gradient to W."""
    g = torch.Generator().manual_seed(5)
    w0, up = torch.randn(40, 30, generator=g), torch.randn(40, 30, generator=g)
    mask, earlier = torch.rand(40, 30, generator=g) < 0.3, torch.rand(40, 30, generator=g) < 0.3
    free = mask & ~earlier
    for f in (free, None):
        a, b = w0.clone().requires_grad_(), w0.clone().requires_grad_()
        fused = exclusive_weight(a, mask, f)
        ref = b * mask if f is None else b * f + (b * (mask & ~f)).detach()
        assert torch.equal(fused, ref) and torch.equal(fused.signbit(), ref.signbit())
        (fused * up).sum().backward()
        (ref * up).sum().backward()
        assert torch.equal(a.grad, b.grad)
