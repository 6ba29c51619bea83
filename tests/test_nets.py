import math

import torch

from maskcl.nets.init import kaiming_normal, signed_constant
from maskcl.nets.mlp import forward, mlp


def test_signed_kaiming_constant_values_and_seed():
    net = mlp("lenet", 100)
    w = signed_constant(net, seed=3)
    assert [tuple(x.shape) for x in w] == [(300, 784), (100, 300), (100, 100)]
    for x, (_, fan_in) in zip(w, net.shapes):
        c = math.sqrt(2.0 / fan_in)
        assert torch.allclose(x.abs(), torch.full_like(x, c))
        assert abs(float((x > 0).float().mean()) - 0.5) < 0.02
    again = signed_constant(net, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(w, again))
    other = signed_constant(net, seed=4)
    assert not torch.equal(w[0], other[0])


def test_architectures_and_unknown_name():
    assert mlp("fc", 500).sizes == (784, 1024, 1024, 500)
    assert mlp("lenet", 100).n_weights == 784 * 300 + 300 * 100 + 100 * 100
    try:
        mlp("resnet", 10)
    except ValueError as e:
        assert "unknown architecture" in str(e)
    else:
        raise AssertionError("expected ValueError")


def test_forward_batched_equals_single():
    net = mlp("lenet", 10)
    w = kaiming_normal(net, 0)
    x = torch.randn(5, 784, generator=torch.Generator().manual_seed(0))
    single = forward(x, w)
    stacked = forward(torch.stack([x, x]), [torch.stack([a, a]) for a in w])
    assert single.shape == (5, 10)
    assert torch.allclose(stacked[0], single, atol=1e-6) and torch.allclose(stacked[1], single, atol=1e-6)
