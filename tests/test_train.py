import pytest
import torch
import torch.nn.functional as F

from maskcl.masks import binary_mask, init_scores, masked_weight
from maskcl.nets.init import signed_constant
from maskcl.nets.mlp import backward, forward, mlp
from maskcl.kernels.mlp_train import batched_grads, cross_entropy_grad, masked_weight_, score_grad_
from maskcl.methods.bounds import train_dense
from maskcl.methods.supsup import train_masks
from maskcl.train import TrainConfig, batched_loss, fit, task_batches
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


def _autograd_reference(stream, w, tasks, cfg, seed, params, weights_of):
    """The same training by autograd (batched_loss + masked_weight): the reference for the by-hand gradients."""
    params = [p.clone().requires_grad_() for p in params]
    order = task_batches(stream, tasks, cfg, seed)
    fit(params, batched_loss(stream, order, tasks, lambda: weights_of(params)), cfg)
    return [p.detach() for p in params]


@pytest.mark.parametrize("kind,dtype", [("threshold", torch.float32), ("topk", torch.float32),
                                        ("threshold", torch.bfloat16)])
def test_by_hand_gradients_train_the_scores_autograd_does_bit_for_bit(kind, dtype):
    stream = synthetic_stream("permuted", n_tasks=3)
    net, w = tiny_net(out_size=10)
    w = [x.to(dtype) for x in w]
    cfg = TrainConfig(steps=30, batch=32, lr=1e-2, mask=kind, density=0.3 if kind == "topk" else None)
    tasks = [0, 1, 2]
    start = [torch.stack([init_scores(net, 4, t)[l] for t in tasks]) for l in range(len(w))]
    ref = _autograd_reference(stream, w, tasks, cfg, 4, start,
                              lambda s: [masked_weight(a, b, kind, cfg.density) for a, b in zip(w, s)])
    scores = [s.clone() for s in start]
    buffers = [torch.empty(s.shape, dtype=dtype) for s in scores]
    grads = batched_grads(stream, task_batches(stream, tasks, cfg, 4), tasks,
                          lambda: [masked_weight_(b, a, s, kind, cfg.density) for b, a, s in zip(buffers, w, scores)])
    fit(scores, lambda step: [score_grad_(g, a, s, kind) for g, a, s in zip(grads(step), w, scores)], cfg,
        by_hand=True)
    assert all(torch.equal(a, b) for a, b in zip(scores, ref))
    assert not all(torch.equal(a, b) for a, b in zip(scores, start))  # it trained
    masks = train_masks(stream, net, w, tasks, cfg, seed=4)  # the library's path is this one
    assert all(torch.equal(m, binary_mask(s, kind, cfg.density, layer_dims=2)) for m, s in zip(masks, scores))


def test_by_hand_gradients_train_dense_weights_autograd_does_bit_for_bit():
    stream = synthetic_stream("permuted", n_tasks=2)
    net, w = tiny_net(out_size=10)
    cfg = TrainConfig(steps=20, batch=32, lr=1e-3)
    init = [torch.stack([x, -x]) for x in w]
    ref = _autograd_reference(stream, w, [0, 1], cfg, 2, init, lambda p: p)
    assert all(torch.equal(a, b) for a, b in zip(train_dense(stream, init, [0, 1], cfg, seed=2), ref))


@pytest.mark.parametrize("sizes,tasks", [((784, 300, 100, 100), 16), ((784, 300, 100, 10), 16),
                                         ((784, 300, 100, 10), 1), ((784, 1024, 1024, 500), 2)])
def test_by_hand_gradients_equal_autograd_at_the_papers_shapes(sizes, tasks):
    g = torch.Generator().manual_seed(0)
    w = [torch.randn(tasks, o, i, generator=g) / i ** 0.5 for i, o in zip(sizes[:-1], sizes[1:])]
    x = torch.randn(tasks, 128, sizes[0], generator=g)
    y = torch.randint(0, sizes[-1], (tasks, 128), generator=g)
    leaves = [a.clone().requires_grad_() for a in w]
    logits = forward(x, leaves).flatten(0, 1)
    F.cross_entropy(logits, y.flatten(), reduction="none").view(tasks, -1).mean(1).sum().backward()
    inputs = []
    by_hand = backward(inputs, w, cross_entropy_grad(forward(x, w, inputs=inputs), y))
    assert all(torch.equal(a, b.grad) for a, b in zip(by_hand, leaves))


@pytest.mark.parametrize("arch,kind,dtype", [("lenet", "threshold", torch.float32), ("lenet", "topk", torch.float32),
                                             ("lenet", "threshold", torch.bfloat16), ("fc", "threshold", torch.float32)])
def test_the_kernel_trains_the_masks_the_readable_path_does_at_the_papers_shapes(arch, kind, dtype):
    """SupSup's `train_masks`: the readable autograd path (fast=False) and `kernels.mlp_train` (the default) give
    the same masks, bit for bit, for LeNet 300-100 and FC 1024-1024 with s = 100 outputs."""
    net = mlp(arch, 100)
    w = [x.to(dtype) for x in signed_constant(net, 0)]
    stream = synthetic_stream("permuted", n_tasks=2)
    cfg = TrainConfig(steps=8, batch=128, lr=1e-2, mask=kind, density=0.3 if kind == "topk" else None)
    readable = train_masks(stream, net, w, [0, 1], cfg, seed=3, fast=False)
    kernel = train_masks(stream, net, w, [0, 1], cfg, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(readable, kernel))
    start = [binary_mask(s, kind, cfg.density) for s in init_scores(net, 3, 0)]
    assert not all(torch.equal(a[0], b) for a, b in zip(kernel, start))  # it trained
