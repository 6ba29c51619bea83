import torch

from maskcl.methods import batche
from maskcl.nets.mlp import MLP
from maskcl.infer import decision_groups
from maskcl.runs import StreamExperiment
from maskcl.store import Checkpoint
from maskcl.train import TrainConfig, batched_loss, fit, task_batches

from .helpers import synthetic_stream

NET = MLP((784, 64, 32, 10))


def _exp(**kw):
    return StreamExperiment(method="batche", out_size=10, n_tasks=4, checkpoints=(2, 4), objectives=("H",),
                      train=TrainConfig(steps=80, batch=64), test_limit=256, dataset="synthetic", **kw)


def test_rank_one_is_the_outer_product():
    r, s = [torch.randn(3, 5)], [torch.randn(3, 4)]
    m = batche.rank_one(r, s)[0]
    assert torch.allclose(m[1], torch.outer(s[0][1], r[0][1]))
    first = batche.init_fast(NET, 0, 7)
    assert all(set(v.unique().tolist()) <= {-1.0, 1.0} for v in first[0] + first[1])


def test_w_trained_on_first_task_only_and_batched_equals_sequential(tmp_path):
    stream = synthetic_stream(n_tasks=4)
    together = batche.train(stream, NET, _exp(chunk=3), batche.BatchEConfig(), Checkpoint(tmp_path / "a"), "cpu")
    one_by_one = batche.train(stream, NET, _exp(chunk=1), batche.BatchEConfig(), Checkpoint(tmp_path / "b"), "cpu")
    for a, b in zip(together[0], one_by_one[0]):
        assert torch.equal(a, b)  # W is fixed after task 0, whatever trains later
    for a, b in zip(together[1] + together[2], one_by_one[1] + one_by_one[2]):
        assert a.shape[0] == 4 and torch.allclose(a, b, atol=1e-4)
    w0 = batche.kaiming_normal(NET, 0)
    assert not torch.equal(w0[0], together[0][0])  # the first task did train W


def test_gg_learns_and_abatche_infers_the_task(tmp_path):
    stream = synthetic_stream(n_tasks=4)
    exp = _exp(chunk=4, abatche=(1, 16))
    out = batche.run(exp, Checkpoint(tmp_path), stream, NET, "cpu")
    row = {(r["method"], r["tasks"]): r for r in out["rows"]}
    assert row[("BatchE (GG)", 4)]["accuracy"] > 50 and ("BatchE (GNu H)", 4) in row
    assert row[("ABatchE H (b=16)", 4)]["task_inference"] > row[("ABatchE H (b=1)", 4)]["task_inference"]
    w, r, s = batche.train(stream, NET, _exp(chunk=4), batche.BatchEConfig(), Checkpoint(tmp_path), "cpu")
    hits = []
    for t in range(4):
        x, _ = stream.task_data(t, "test", 256)
        groups = decision_groups(x, 16, "full")[0]
        hits.append(float((batche.abatche(w, r, s, groups, "H") == t).float().mean()))
    assert sum(hits) / 4 > 0.9  # 16 images per decision: the task is clear
    again = batche.run(exp, Checkpoint(tmp_path), stream, NET, "cpu")  # resumed from checkpoints
    assert again == out


def test_fast_weights_by_hand_train_what_autograd_trains_bit_for_bit():
    stream = synthetic_stream(n_tasks=3)
    exp, cfg = _exp(), batche.BatchEConfig()
    for tasks, train_w, lr in (([0], True, cfg.first_lr), ([1, 2], False, cfg.lr)):
        w0 = batche.kaiming_normal(NET, 0)
        fast = [batche.init_fast(NET, 0, t) for t in tasks]
        r0 = [torch.stack([f[0][l] for f in fast]) for l in range(3)]
        s0 = [torch.stack([f[1][l] for f in fast]) for l in range(3)]
        leaves = [x.clone().requires_grad_() for x in (w0 if train_w else []) + r0 + s0]
        ws = leaves[:3] if train_w else w0
        rs, ss = leaves[-6:-3], leaves[-3:]
        loss = batched_loss(stream, task_batches(stream, tasks, exp.train, exp.seed), tasks,
                            lambda: [w * m for w, m in zip(ws, batche.rank_one(rs, ss))])
        fit(leaves, loss, TrainConfig(steps=exp.train.steps, batch=exp.train.batch, lr=lr), optimizer="adam",
            weight_decay=cfg.weight_decay)
        got = batche.train_fast(stream, exp, tasks, [w.clone() for w in w0], r0, s0, lr, cfg, train_w)
        mine = (got[0] if train_w else []) + got[1] + got[2]
        assert all(torch.equal(a, b.detach()) for a, b in zip(mine, leaves)), (tasks, train_w)
