import torch

from maskcl.methods import psp
from maskcl.nets.init import kaiming_normal
from maskcl.nets.mlp import MLP, forward
from maskcl.runs import StreamExperiment
from maskcl.scoring import accuracy
from maskcl.loop import load_progress
from maskcl.store import Checkpoint
from maskcl.train import TrainConfig

from .helpers import synthetic_stream


def test_context_is_orthogonal_and_seeded():
    c = psp.context(50, seed=1, task=2, layer=0)
    assert torch.allclose(c @ c.T, torch.eye(50), atol=1e-5)
    assert torch.equal(c, psp.context(50, 1, 2, 0))
    other = psp.context(50, 1, 3, 0)
    assert float((c * other).sum().abs()) < 0.5 * 50  # different tasks: far from the same rotation


def test_identity_contexts_give_the_plain_network():
    net = MLP((784, 32, 10))
    w = kaiming_normal(net, 0)
    x = torch.randn(5, 784)
    eye = [torch.eye(i) for _, i in net.shapes]
    assert torch.allclose(psp.forward(x, w, eye), forward(x, w), atol=1e-5)


def _exp(**kw):
    return StreamExperiment(method="psp", out_size=10, n_tasks=3, checkpoints=(1, 3),
                      train=TrainConfig(steps=60, batch=64, lr=1e-3), dataset="synthetic", **kw)


def test_psp_learns_remembers_with_contexts_and_resumes(tmp_path):
    stream = synthetic_stream(n_tasks=3)
    net = MLP((784, 64, 32, 10))
    exp = _exp()
    full = psp.run(exp, Checkpoint(tmp_path / "a"), stream, net, "cpu")
    after_one, after_three = full["per_task"]["PSP (GG)|1"], full["per_task"]["PSP (GG)|3"]
    assert after_one[0] > 60 and after_three[0] > 30  # learned, and task 0 still far above chance (10 %)
    # the same W read with the wrong task's context has no access to task 0
    ckpt = Checkpoint(tmp_path / "a")
    w = load_progress(ckpt).carry["weights"]
    x, y = stream.task_data(0, "test")
    right = accuracy(lambda xb: psp.forward(xb, w, psp.contexts(net, exp.seed, 0)), x, y)
    wrong = accuracy(lambda xb: psp.forward(xb, w, psp.contexts(net, exp.seed, 1)), x, y)
    assert right > wrong + 15
    # killed after one task, resumed: identical to the uninterrupted run
    short = StreamExperiment(**{**exp.__dict__, "n_tasks": 1, "checkpoints": (1,)})
    psp.run(short, Checkpoint(tmp_path / "b"), stream, net, "cpu")
    resumed = psp.run(exp, Checkpoint(tmp_path / "b"), stream, net, "cpu")
    assert resumed == full
