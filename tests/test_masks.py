import math

import pytest
import torch

from maskcl.nets.init import fan_in, signed_constant
from maskcl.nets.mlp import MLP, mlp
from maskcl.store import Checkpoint
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
    m = topk_mask(s, density, layer_dims=2)
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
    for s, (_, n_in) in zip(a, net.shapes):
        bound = 1 / math.sqrt(n_in)
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
    plain = w * (threshold_mask(s2) if kind == "threshold" else topk_mask(s2, density, layer_dims=2))
    assert torch.equal(fused, plain)
    (fused * upstream).sum().backward()
    (plain * upstream).sum().backward()
    assert torch.equal(s1.grad, s2.grad)
    assert torch.equal(binary_mask(s1, kind, density, layer_dims=2), plain.detach() != 0)


def test_masked_weight_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown mask kind"):
        masked_weight(torch.ones(2, 2), torch.ones(2, 2), "random")
    with pytest.raises(ValueError, match="density"):
        binary_mask(torch.ones(2, 2), "topk")


@pytest.mark.parametrize("density", [0.01, 0.1, 0.37])
def test_topk_on_conv_weights_counts_the_whole_layer(density):
    """A conv weight (out, in, kh, kw) is one layer: exactly ⌈density·out·in·kh·kw⌉ ones per task, chosen over all
    of the layer (not per 3×3 kernel, which would keep ⌈density·9⌉ in every kernel)."""
    s = torch.randn(2, 16, 8, 3, 3, generator=torch.Generator().manual_seed(3))
    m = binary_mask(s, "topk", density, layer_dims=4)
    k = math.ceil(density * 16 * 8 * 9)
    assert m.flatten(1).sum(1).tolist() == [k, k]
    for b in range(2):
        assert s[b].abs()[m[b]].min() >= s[b].abs()[~m[b]].max()
    per_kernel = m.sum((-1, -2))
    assert not bool((per_kernel == math.ceil(density * 9)).all())
    w = torch.randn(16, 8, 3, 3)  # masked_weight reads the layer from W's shape
    assert torch.equal(masked_weight(w, s[0], "topk", density) != 0, m[0] & (w != 0))


def test_conv_fan_in_and_score_bounds():
    class Conv:
        shapes = [(20, 3, 3, 3), (40, 20, 1, 1), (5, 160, 1, 1)]
    assert [fan_in(s) for s in Conv.shapes] == [27, 20, 160]
    for s, w, shape in zip(init_scores(Conv, 0, 0), signed_constant(Conv, 0), Conv.shapes):
        assert s.shape == w.shape == shape
        assert s.abs().max() <= 1 / math.sqrt(fan_in(shape))
        assert torch.allclose(w.abs(), torch.full(shape, math.sqrt(2 / fan_in(shape))))


@pytest.mark.parametrize("kind, density", [("threshold", None), ("topk", 0.2)])
def test_masked_weight_gradient_to_w_equals_autograd(kind, density):
    """With W trainable, the fused W ⊙ M gives W and the scores exactly autograd's gradients of w * mask —
    for one task and for W shared by stacked tasks (whose gradients add up)."""
    g = torch.Generator().manual_seed(4)
    for stack in ((), (3,)):
        w1 = torch.randn(6, 4, 3, 3, generator=g, requires_grad=True)
        w2 = w1.detach().clone().requires_grad_()
        s1 = torch.randn(*stack, 6, 4, 3, 3, generator=g, requires_grad=True)
        s2 = s1.detach().clone().requires_grad_()
        up = torch.randn(*stack, 6, 4, 3, 3, generator=g)
        fused = masked_weight(w1, s1, kind, density)
        mask = threshold_mask(s2) if kind == "threshold" else topk_mask(s2, density, layer_dims=4)
        (fused * up).sum().backward()
        (w2 * mask * up).sum().backward()
        assert torch.allclose(w1.grad, w2.grad, atol=1e-6) and torch.allclose(s1.grad, s2.grad, atol=1e-6)
    frozen = torch.randn(6, 4)
    masked_weight(frozen, torch.randn(6, 4, requires_grad=True)).sum().backward()
    assert frozen.grad is None


def test_bit_packing_any_shape():
    m = torch.rand(3, 20, 7, 3, 3, generator=torch.Generator().manual_seed(5)) > 0.7
    p = pack_bits(m.flatten(1))
    assert p.shape == (3, math.ceil(20 * 7 * 9 / 8))
    assert torch.equal(unpack_bits(p, 20 * 7 * 9).view(m.shape), m)

    class Conv:
        shapes = [(20, 3, 3, 3), (5, 160, 1, 1)]
    assert mask_bytes(Conv) == math.ceil(540 / 8) + math.ceil(800 / 8)


def test_layer_order_is_explicit_for_a_12_layer_net(tmp_path):
    """Per-layer pieces come back in the net's order, not in the text order of their keys ('layer10' < 'layer2')."""
    net = MLP((784,) + tuple(range(50, 50 + 11)) + (10,))
    assert len(net.shapes) == 12
    masks = [torch.rand(2, *shape, generator=torch.Generator().manual_seed(l)) > 0.5
             for l, shape in enumerate(net.shapes)]
    ckpt = Checkpoint(tmp_path)
    ckpt.save_layers("m.safetensors", [pack_bits(m.flatten(1)) for m in masks])
    back = ckpt.load_layers("m.safetensors", 12)
    assert [unpack_bits(b, math.prod(s)).view(-1, *s).shape[1:] for b, s in zip(back, net.shapes)] == net.shapes
    assert all(torch.equal(unpack_bits(b, math.prod(s)).view(-1, *s), m) for b, s, m in zip(back, net.shapes, masks))
    with pytest.raises(ValueError, match="holds 12 tensors, expected 11 layer"):
        ckpt.load_layers("m.safetensors", 11)
