import math

import pytest
import torch

from maskcl.backbones import mlp
from maskcl.masks import (binary_mask, init_scores, mask_bytes, masked_weight, pack_bits, threshold_mask, topk_mask,
                          unpack_bits)


def test_threshold_mask_is_straight_through():
    s = torch.tensor([-0.5, 0.0, 0.3, -1e-9], requires_grad=True)
    m = threshold_mask(s)
    assert m.tolist() == [0.0, 1.0, 1.0, 0.0]
    (m * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert s.grad.tolist() == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("density", [0.05, 0.3, 0.5, 1.0])
def test_topk_exact_density_per_layer_and_task(density):
    s = torch.randn(3, 40, 50, generator=torch.Generator().manual_seed(1), requires_grad=True)
    m = topk_mask(s, density)
    k = math.ceil(density * 40 * 50)
    assert m.detach().flatten(1).sum(1).tolist() == [k] * 3
    kept = m.detach().bool()
    for b in range(3):  # the kept entries are the largest |score| of their task's layer
        if density < 1:
            assert s[b].abs()[kept[b]].min() >= s[b].abs()[~kept[b]].max()
    m.sum().backward()
    assert torch.allclose(s.grad, torch.sign(s.detach()))  # straight through to |score|


def test_topk_rejects_bad_density():
    with pytest.raises(ValueError, match="density"):
        topk_mask(torch.zeros(2, 2), 0.0)


def test_score_init_bounds_and_reproducibility():
    net = mlp("lenet", 100)
    a, b, c = init_scores(net, 0, 0), init_scores(net, 0, 0), init_scores(net, 0, 1)
    for s, (_, fan_in) in zip(a, net.shapes):
        bound = 1 / math.sqrt(fan_in)
        assert s.abs().max() <= bound and s.abs().max() > 0.95 * bound
        assert abs(float((s >= 0).float().mean()) - 0.5) < 0.05  # ~50% density at start
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])


def test_bit_packing_roundtrip_and_size():
    m = torch.rand(4, 1003, generator=torch.Generator().manual_seed(0)) > 0.5
    p = pack_bits(m)
    assert p.dtype == torch.uint8 and p.shape == (4, 126)
    assert torch.equal(unpack_bits(p, 1003), m)
    net = mlp("lenet", 100)
    assert mask_bytes(net) == sum(math.ceil(o * i / 8) for o, i in net.shapes)
    assert mask_bytes(net, packed=False) == net.n_weights


@pytest.mark.parametrize("kind, density", [("threshold", None), ("topk", 0.3)])
def test_masked_weight_equals_weight_times_mask(kind, density):
    """The one-pass W ⊙ M gives bit for bit the forward and score gradient of w * threshold_mask / topk_mask,
    for a shared W broadcast over a batch of task scores."""
    g = torch.Generator().manual_seed(2)
    w = torch.randn(6, 7, generator=g)
    upstream = torch.randn(3, 6, 7, generator=g)
    s1 = torch.randn(3, 6, 7, generator=g, requires_grad=True)
    s2 = s1.detach().clone().requires_grad_()
    fused = masked_weight(w, s1, kind, density)
    plain = w * (threshold_mask(s2) if kind == "threshold" else topk_mask(s2, density))
    assert torch.equal(fused, plain)
    (fused * upstream).sum().backward()
    (plain * upstream).sum().backward()
    assert torch.equal(s1.grad, s2.grad)
    assert torch.equal(binary_mask(s1, kind, density), plain.detach() != 0)


def test_masked_weight_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown mask kind"):
        masked_weight(torch.ones(2, 2), torch.ones(2, 2), "random")
    with pytest.raises(ValueError, match="density"):
        binary_mask(torch.ones(2, 2), "topk")
