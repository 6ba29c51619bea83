import torch

from maskcl.methods import hopfield
from maskcl.nets.hopnet import bn_net, forward as hop_forward
from maskcl.nets.init import signed_constant
from maskcl.data import synthetic_mnist, task_stream
from maskcl.seeding import generator
from maskcl.store import Checkpoint


def patterns(n, d, seed=0):
    return torch.randint(0, 2, (n, d), generator=generator("test-patterns", seed)).float() * 2 - 1


def test_storkey_is_equation_6():
    z1, z2 = patterns(2, 16)
    eye = torch.eye(16)
    psi = hopfield.store(torch.zeros(16, 16), z1)
    assert torch.allclose(psi, (torch.outer(z1, z1) - eye) / 16)
    h = psi @ z2
    expected = psi + (torch.outer(z2, z2) - torch.outer(z2, h) - torch.outer(h, z2) - eye) / 16
    assert torch.allclose(hopfield.store(psi, z2), expected)


def test_storkey_stores_more_fixed_points_than_hebbian():
    d = 200
    storkey = hopfield.capacity(d, 60, "storkey", seed=0)
    hebbian = hopfield.capacity(d, 60, "hebbian", seed=0)
    # Hebbian capacity d / (2 ln d) ≈ 19: below it all patterns are fixed points, far above it most are not
    assert hebbian[9] == 1.0 and hebbian[59] < 0.5
    # Storkey holds every one of 40 patterns, twice the Hebbian capacity
    assert storkey[39] == 1.0
    assert sum(storkey) > sum(hebbian) + 10


def test_energy_descent_recovers_a_corrupted_pattern():
    d = 256
    pats = patterns(10, d, seed=1)
    psi = torch.zeros(d, d)
    for z in pats:
        psi = hopfield.store(psi, z)
    flip = torch.rand(d, generator=generator("flip")) < 0.15
    noisy = torch.where(flip, -pats[3], pats[3])
    assert (noisy != pats[3]).sum() > 20
    assert torch.equal(hopfield.hopfield_descent(psi, noisy, steps=10), pats[3])


def test_masked_neuron_is_silent():
    net = bn_net(8)
    w = signed_constant(net, 0)
    x = torch.randn(5, 784, generator=generator("x"))
    on = [torch.ones(8), torch.ones(8)]
    off = [torch.ones(8), torch.ones(8)]
    off[1][3] = 0
    changed = hop_forward(x, [w[0], w[1], w[2] * (torch.arange(8) != 3)], on)
    assert torch.allclose(hop_forward(x, w, off), changed, atol=1e-5)  # silu(0) = 0: neuron 3 contributes nothing


def test_recovery_finds_the_right_mask_on_a_tiny_task(tmp_path):
    # a 256-wide net on the synthetic fixture; γ scaled by 2048 / 256 so energy and entropy keep the paper's balance
    cfg = hopfield.HopConfig(hidden=256, test_batch=32, gamma=1.2e-2)
    stream = task_stream("split", 5, synthetic_mnist(0, 3000, 3000))
    weights = signed_constant(bn_net(256), 0)
    masks = [hopfield.train_mask(stream, weights, t, cfg, seed=0) for t in range(5)]
    stored = [torch.stack([m[l] for m in masks]) for l in range(2)]
    psi, mu = hopfield.memorise(stored)
    exact = 0
    for t in range(5):
        batches = hopfield.test_batches(stream, t, cfg, seed=0)
        rec, dist = hopfield.recover(stream, weights, psi, mu, t, batches, cfg, stored)
        assert dist.shape == (len(batches) + 1, 5)
        assert int(dist[0, t]) > 0  # μ is not already the answer
        exact += all(torch.equal(r, m) for r, m in zip(rec, masks[t]))
    assert exact >= 4


def test_run_records_rows_and_curves(tmp_path):
    exp = hopfield.HopExperiment(dataset="synthetic", hop=hopfield.HopConfig(hidden=32, max_steps=5, test_limit=200))
    out = hopfield.run(exp, Checkpoint(tmp_path), torch.device("cpu"))
    assert [r["task"] for r in out["rows"]] == list(range(5))
    assert all(0 <= r["accuracy_recovered"] <= 100 for r in out["rows"])
    assert len(out["curves"]) == sum((r["steps"] + 1) * 5 for r in out["rows"])
    again = hopfield.run(exp, Checkpoint(tmp_path), torch.device("cpu"))  # resumes from the stored masks
    assert again["rows"] == out["rows"]
