import pytest
import torch

from maskcl.kernels import mlp_infer

from maskcl.nets.mlp import forward
from maskcl.infer import (alpha_grads, batch_correct, binary, decision_groups, entropy, objective_fn, one_shot,
                          superfluous_logsumexp, superpose)
from maskcl.methods.supsup import train_masks
from maskcl.train import TrainConfig
from tests.helpers import synthetic_stream, tiny_net


def _setup(dtype=torch.float64, k=4, groups=3, n=5):
    g = torch.Generator().manual_seed(0)
    net, w = tiny_net(out_size=20)
    w = [x.to(dtype) for x in w]
    masks = [torch.rand(k, *x.shape, generator=g) > 0.5 for x in w]
    x = torch.randn(groups, n, 784, generator=g, dtype=dtype)
    alpha = torch.rand(groups, k, generator=g, dtype=dtype)
    return w, masks, x, alpha / alpha.sum(1, keepdim=True)


def _logits(w, masks, alpha_row, x_group):
    w_eff = [wl * torch.einsum("k,koi->oi", alpha_row, m.to(alpha_row.dtype)) for wl, m in zip(w, masks)]
    return forward(x_group, w_eff)


def _objective_at(w, masks, alpha_row, x_group, objective):
    return objective_fn(objective)(_logits(w, masks, alpha_row, x_group), 10).mean()


def _surrogate_at(w, masks, alpha_row, x_group, objective, base_row):
    """J as a function of α whose finite differences equal ∂J/∂α: for G the real outputs (detached in G)
    stay at their values at the base point."""
    y = _logits(w, masks, alpha_row, x_group)
    if objective == "G":
        y = torch.cat([_logits(w, masks, base_row, x_group)[:, :10], y[:, 10:]], dim=1)
    return objective_fn(objective)(y, 10).mean()


@pytest.mark.parametrize("objective", ["H", "G"])
def test_alpha_gradient_matches_finite_differences(objective):
    w, masks, x, alpha = _setup()
    grads = alpha_grads(w, masks, alpha, x, objective)
    eps = 1e-6
    for g in range(x.shape[0]):
        for i in range(alpha.shape[1]):
            e = torch.zeros_like(alpha[g]); e[i] = eps
            fd = (_surrogate_at(w, masks, alpha[g] + e, x[g], objective, alpha[g])
                  - _surrogate_at(w, masks, alpha[g] - e, x[g], objective, alpha[g])) / (2 * eps)
            assert float(grads[g, i]) == pytest.approx(float(fd), rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("objective", ["H", "G"])
def test_alpha_gradient_matches_autograd_through_alpha(objective):
    w, masks, x, alpha = _setup(dtype=torch.float32)
    grads = alpha_grads(w, masks, alpha, x, objective, chunk=10)  # also exercises chunking over groups
    for g in range(x.shape[0]):
        a = alpha[g].clone().requires_grad_()
        (direct,) = torch.autograd.grad(_objective_at(w, masks, a, x[g], objective), a)
        assert torch.allclose(grads[g], direct, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("objective", ["H", "G"])
@pytest.mark.parametrize("sizes,n", [((784, 300, 100, 100), 1), ((784, 300, 100, 100), 128), ((784, 64, 32, 20), 5)])
def test_mlp_kernel_alpha_gradients_are_the_readable_paths_bit_for_bit(objective, sizes, n):
    g = torch.Generator().manual_seed(1)
    w = [torch.randn(o, i, generator=g) / i ** 0.5 for i, o in zip(sizes[:-1], sizes[1:])]
    masks = [torch.rand(12, *x.shape, generator=g) > 0.5 for x in w]
    x = torch.randn(6, n, sizes[0], generator=g)
    uniform = torch.full((6, 12), 1 / 12)
    ragged = torch.rand(6, 12, generator=g)
    for alpha in (uniform, ragged / ragged.sum(1, keepdim=True)):  # one-shot (shared network), binary's later rounds
        assert torch.equal(mlp_infer.alpha_grads(w, masks, alpha, x, objective),
                           alpha_grads(w, masks, alpha, x, objective))
    assert torch.equal(one_shot(w, masks, x, objective), one_shot(w, masks, x, objective, superposed=superpose(w, masks)))
    assert torch.equal(one_shot(w, masks, x, objective), one_shot(w, masks, x, objective, fast=False))
    assert torch.equal(binary(w, masks, x, objective), binary(w, masks, x, objective, fast=False))


def test_G_passes_gradient_only_through_superfluous_outputs():
    y = torch.randn(3, 15, requires_grad=True)
    superfluous_logsumexp(y, 10).sum().backward()
    assert torch.all(y.grad[:, :10] == 0) and torch.all(y.grad[:, 10:] > 0)
    p = torch.softmax(y.detach(), -1)
    assert torch.allclose(y.grad[:, 10:], p[:, 10:])  # Lemma I.1: equals the cross-entropy gradient
    assert torch.allclose(entropy(torch.zeros(2, 4)), torch.full((2,), torch.log(torch.tensor(4.0))))


def test_decision_groups_first_and_full():
    x = torch.randn(300, 784)
    (first,) = decision_groups(x, 128, "first")
    assert first.shape == (3, 1, 784) and torch.equal(first[1, 0], x[128])
    full = decision_groups(x, 128, "full")
    assert [tuple(g.shape) for g in full] == [(2, 128, 784), (1, 44, 784)]
    with pytest.raises(ValueError):
        decision_groups(x, 128, "middle")


def test_batch_correct_counts_per_batch():
    net, w = tiny_net(out_size=10)
    mask = [torch.ones_like(x, dtype=torch.bool) for x in w]
    x = torch.randn(300, 784)
    pred = forward(x, w).argmax(-1)
    y = pred.clone(); y[:10] = (y[:10] + 1) % 10  # the first ten wrong
    assert batch_correct(w, mask, x, y, 128).tolist() == [118, 128, 44]


@pytest.fixture(scope="module")
def trained():
    """Masks trained on 4 clearly different (permuted) synthetic tasks."""
    stream = synthetic_stream("permuted", n_tasks=4, n_train=3000, n_test=512)
    net, w = tiny_net(out_size=30)
    masks = train_masks(stream, net, w, [0, 1, 2, 3], TrainConfig(steps=200, batch=64, lr=1e-3), seed=0)
    return stream, w, masks


@pytest.mark.parametrize("objective", ["H", "G"])
def test_one_shot_finds_the_task_from_a_full_batch(trained, objective):
    stream, w, masks = trained
    for t in range(4):
        x, _ = stream.task_data(t, "test")
        for group in decision_groups(x, 128, "full"):
            assert one_shot(w, masks, group, objective).tolist() == [t] * len(group)


def test_one_shot_single_image_mostly_right(trained):
    stream, w, masks = trained
    right = []
    for t in range(4):
        x, _ = stream.task_data(t, "test")
        right.append(one_shot(w, masks, x[:200].unsqueeze(1), "H") == t)
    assert float(torch.cat(right).float().mean()) > 0.9  # chance: 0.25


def test_binary_finds_the_task_and_gamma_one_over_k_is_one_shot(trained):
    stream, w, masks = trained
    for t in range(4):
        x, _ = stream.task_data(t, "test")
        groups = decision_groups(x, 128, "full")[0]
        assert binary(w, masks, groups).tolist() == [t] * len(groups)
        singles = x[:64].unsqueeze(1)
        assert torch.equal(binary(w, masks, singles, keep=1 / 4), one_shot(w, masks, singles))


def test_entropy_and_its_alpha_gradient_match_closed_forms_computed_independently():
    """An independent reference for H (not `objective_fn` against itself): closed-form values, the analytic
    gradient ∂H/∂y_v = −p_v (log p_v + H), and, for a one-layer net y = (W ⊙ Σ_i α_i M_i) x, eq. 4's
    ∂H/∂α_i = mean_n Σ_v ∂H/∂y_{n,v} · ((W ⊙ M_i) x_n)_v, all in numpy float64."""
    import numpy as np

    y = torch.log(torch.tensor([[1.0, 3.0], [1.0, 1.0]], dtype=torch.float64)).requires_grad_()
    h = entropy(y)
    assert h.detach().numpy() == pytest.approx([-(0.25 * np.log(0.25) + 0.75 * np.log(0.75)), np.log(2)], abs=1e-12)
    h.sum().backward()
    p = np.array([[0.25, 0.75], [0.5, 0.5]])
    assert y.grad.numpy() == pytest.approx(-p * (np.log(p) + h.detach().numpy()[:, None]), abs=1e-12)

    g = torch.Generator().manual_seed(3)
    k, n, d, v = 3, 4, 6, 5
    w = torch.randn(v, d, generator=g, dtype=torch.float64)
    masks = torch.rand(k, v, d, generator=g) > 0.5
    x = torch.randn(1, n, d, generator=g, dtype=torch.float64)
    alpha = torch.full((1, k), 1 / k, dtype=torch.float64)
    W, M, X = w.numpy(), masks.numpy(), x[0].numpy()
    logits = X @ (W * M.mean(0)).T  # (n, v) under α = 1/k
    q = np.exp(logits - logits.max(1, keepdims=True)); q /= q.sum(1, keepdims=True)
    H = -(q * np.log(q)).sum(1, keepdims=True)
    dh_dy = -q * (np.log(q) + H)
    expected = np.array([(dh_dy * (X @ (W * M[i]).T)).sum(1).mean() for i in range(k)])
    for fn in (alpha_grads, mlp_infer.alpha_grads):
        assert fn([w], [masks], alpha, x, "H")[0].numpy() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert int(one_shot([w], [masks], x, "H")[0]) == int(expected.argmin())
