from dataclasses import replace

import pytest
import torch

from maskcl.methods import hopfield
from maskcl.nets.hopnet import bn_net, forward as hop_forward
from maskcl.nets.init import signed_constant
from maskcl.data import synthetic_mnist, task_stream
from maskcl.seeding import generator
from maskcl.store import Checkpoint


def patterns(n, d, seed=0):
    return torch.randint(0, 2, (n, d), generator=generator("test-patterns", seed)).float() * 2 - 1


def test_storkey_rule_on_two_orthogonal_patterns_worked_by_hand():
    """z1 ⊥ z2, d = 4. After z1: Ψ1 = (z1z1ᵀ − I)/4, so h = Ψ1 z2 = −z2/4 and eq. 6 adds
    (z2z2ᵀ + z2z2ᵀ/4 + z2z2ᵀ/4 − I)/4: Ψ2 = (4·z1z1ᵀ + 6·z2z2ᵀ − 8·I)/16."""
    z1, z2 = torch.tensor([1.0, -1, 1, 1]), torch.tensor([1.0, 1, -1, 1])
    psi = hopfield.store(hopfield.store(torch.zeros(4, 4), z1), z2)
    by_hand = torch.tensor([[2.0, 2, -2, 10], [2, 2, -10, 2], [-2, -10, 2, -2], [10, 2, -2, 2]]) / 16
    assert torch.equal(psi, by_hand)
    assert torch.equal(hopfield.store(torch.zeros(4, 4), z1, "hebbian"), torch.outer(z1, z1) / 4)
    assert hopfield.is_fixed_point(psi, torch.stack([z1, z2])).all()


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


def test_recovery_finds_every_mask_exactly_and_restarts_keep_the_confident_pass(tmp_path, monkeypatch):
    # a 256-wide net on the synthetic fixture; γ scaled by 2048 / 256 so energy and entropy keep the paper's balance
    cfg = hopfield.HopConfig(hidden=256, test_batch=32, gamma=1.2e-2)
    stream = task_stream("split", 5, synthetic_mnist(0, 3000, 3000))
    weights = signed_constant(bn_net(256), 0)
    masks = [hopfield.train_mask(stream, weights, t, cfg, seed=0) for t in range(5)]
    stored = [torch.stack([m[l] for m in masks]) for l in range(2)]
    psi, mu = hopfield.memorise(stored)
    for t in range(5):
        batches = hopfield.test_batches(stream, t, cfg, seed=0)
        rec, dist = hopfield.recover(stream, weights, psi, mu, t, batches, cfg, stored)
        assert dist.shape == (len(batches) + 1, 5)
        assert int(dist[0, t]) > 0  # μ is not already the answer ...
        assert all(torch.equal(r, m) for r, m in zip(rec, masks[t]))  # ... and every task is recovered exactly
        assert hopfield.steps_to_nearest(dist, t) < len(batches) // 2

    # A failed pass (here layer 2 ends all off: uniform outputs, the highest entropy). Pass 2 starts the last layer
    # from the mean of the stored patterns other than pass 1's, pass 3 the first layer from pass 1's pattern; the
    # lowest-entropy mask is kept.
    real, starts, ends = hopfield.recover, [], []

    def first_pass_fails(stream, weights, psi, mu, task, batches, cfg, stored=None):
        starts.append(mu)
        rec, dist = real(stream, weights, psi, mu, task, batches, cfg, stored)
        ends.append([rec[0], torch.zeros_like(rec[1])] if len(starts) == 1 else rec)
        return ends[-1], dist

    monkeypatch.setattr(hopfield, "recover", first_pass_fails)
    batches = hopfield.test_batches(stream, 2, cfg, seed=0)
    rec, _, kept = hopfield.recover_with_restarts(stream, weights, psi, mu, 2, batches, replace(cfg, restarts=3), 5,
                                                  stored)
    entropies = [hopfield.mean_entropy(stream, weights, e, 2, batches) for e in ends]
    assert len(ends) == 3 and kept == min(range(3), key=entropies.__getitem__) and kept > 0
    assert all(torch.equal(r, e) for r, e in zip(rec, ends[kept]))
    z = [2.0 * e - 1 for e in ends[0]]  # what pass 1 ended on, per layer
    assert all(torch.equal(a, b) for a, b in zip(starts[0], mu))  # pass 1 is the faithful recovery
    assert torch.equal(starts[1][0], mu[0]) and torch.allclose(starts[1][1], (5 * mu[1] - z[1]) / 4)
    assert torch.equal(starts[2][0], z[0]) and torch.equal(starts[2][1], mu[1])
    hopfield.recover_with_restarts(stream, weights, psi, mu, 2, batches, replace(cfg, restarts=2), 5)
    assert len(ends) == 3 + 2


def test_steps_to_nearest_reads_the_distance_curve():
    dist = torch.tensor([[5, 3, 9], [4, 6, 9], [0, 6, 9], [0, 7, 9]])  # task 0 nearest from step 1 on
    assert hopfield.steps_to_nearest(dist, 0) == 1
    assert hopfield.steps_to_nearest(dist, 1) is None  # not the nearest at the end
    assert hopfield.steps_to_nearest(torch.tensor([[1, 5], [0, 5]]), 0) == 0  # nearest throughout
    assert hopfield.steps_to_nearest(torch.tensor([[1, 1], [0, 1]]), 1) is None  # a tie goes to the lower index


def test_run_records_rows_and_curves(tmp_path):
    exp = hopfield.HopExperiment(dataset="synthetic", hop=hopfield.HopConfig(hidden=32, max_steps=5, test_limit=200))
    out = hopfield.run(exp, Checkpoint(tmp_path), torch.device("cpu"))
    assert [r["task"] for r in out["rows"]] == list(range(5))
    for r in out["rows"]:  # one recovered mask: exact ⇔ distance 0 ⇔ nearest; exact ⇒ the same accuracy
        assert r["exact"] == (r["hamming_to_correct"] == 0)
        assert not r["exact"] or (r["recovered_task"] == r["task"] and r["accuracy_recovered"] == r["accuracy_correct"])
        assert "restart_kept" not in r  # the faithful method
    assert out["hopfield_bytes"] == 4 * (2 * 32 * 32 + 2 * 32) and out["explicit_mask_bits"] == 5 * 2 * 32
    assert len(out["curves"]) == sum((r["steps"] + 1) * 5 for r in out["rows"])
    again = hopfield.run(exp, Checkpoint(tmp_path), torch.device("cpu"))  # resumes from the stored masks
    assert again["rows"] == out["rows"]


def test_restarts_outside_1_to_3_are_refused():
    for bad in (0, 4):
        with pytest.raises(ValueError, match="restarts"):
            hopfield.HopConfig(restarts=bad)
