import torch

from maskcl.nets.mlp import forward
from maskcl.train import TrainConfig, train_masks
from tests.helpers import synthetic_stream, tiny_net


def test_batched_training_equals_sequential():
    stream = synthetic_stream("permuted", n_tasks=3)
    net, w = tiny_net()
    cfg = TrainConfig(steps=25, batch=32, lr=1e-3)
    together = train_masks(stream, net, w, [0, 1, 2], cfg, seed=5)
    for b, t in enumerate([0, 1, 2]):
        alone = train_masks(stream, net, w, [t], cfg, seed=5)
        for layer in range(len(w)):
            assert torch.equal(together[layer][b], alone[layer][0]), (t, layer)


def test_training_is_deterministic_and_learns():
    stream = synthetic_stream("permuted", n_tasks=1)
    net, w = tiny_net(out_size=10)
    cfg = TrainConfig(steps=150, batch=64, lr=1e-3)
    a = train_masks(stream, net, w, [0], cfg, seed=1)
    b = train_masks(stream, net, w, [0], cfg, seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    x, y = stream.task_data(0, "test")
    masked = [wl * m[0] for wl, m in zip(w, a)]
    acc = float((forward(x, masked).argmax(-1) == y).float().mean())
    assert acc > 0.8  # chance is 0.1
    assert all(0.2 < float(m.float().mean()) < 0.8 for m in a)


def test_topk_training_keeps_the_density():
    stream = synthetic_stream("permuted", n_tasks=1)
    net, w = tiny_net(out_size=10)
    masks = train_masks(stream, net, w, [0], TrainConfig(steps=10, batch=32, mask="topk", density=0.1), seed=0)
    for m in masks:
        assert abs(float(m.float().mean()) - 0.1) < 0.01
