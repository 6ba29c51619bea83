"""Bias-free ReLU MLPs (LeNet 300-100, FC 1024-1024): the layer widths, the weight shapes in order, and the
one forward pass that every MLP method uses (one task, or B stacked tasks at once)."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MLP:
    """A bias-free ReLU MLP given by its layer widths, e.g. (784, 300, 100, s) for LeNet 300-100."""

    sizes: tuple[int, ...]

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return [(o, i) for i, o in zip(self.sizes[:-1], self.sizes[1:])]

    @property
    def names(self) -> list[str]:
        return [f"fc{l}" for l in range(len(self.shapes))]

    @property
    def n_weights(self) -> int:
        return sum(o * i for o, i in self.shapes)

    def forward(self, x: torch.Tensor, weights: list[torch.Tensor], state: list[torch.Tensor] | None = None,
                train: bool = False, head: bool = True) -> torch.Tensor:
        """The `Net` protocol's forward (`forward` below); an MLP has no per-task state."""
        return forward(x, weights, head=head)

    def init_state(self, device="cpu") -> list[torch.Tensor]:
        """The `Net` protocol's per-task state: none."""
        return []


ARCHITECTURES = {"lenet": (300, 100), "fc": (1024, 1024)}


def mlp(arch: str, out_size: int, in_size: int = 784) -> MLP:
    """LeNet 300-100 (`lenet`) or FC 1024-1024 (`fc`) with `out_size` outputs (s in the paper)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    return MLP((in_size, *ARCHITECTURES[arch], out_size))


def forward(x: torch.Tensor, weights: list[torch.Tensor], head: bool = True,
            inputs: list[torch.Tensor] | None = None) -> torch.Tensor:
    """y = W_L relu(… relu(W_1 x)): x is (n, in) with (out, in) weights, or (B, n, in) with (B, out, in).
    With `head=False`, the penultimate layer's output before its ReLU, W_{L−1} relu(…) (the features the ExSSNeT
    code's LeNet returns: 100 units for LeNet 300-100). A list passed as `inputs` receives each layer's input
    (x, relu(h_1), …), which `backward` needs."""
    layers = weights if head else weights[:-1]
    h = x.to(layers[0].dtype)  # bf16 weights (an option) take bf16 inputs; a no-op in fp32
    for layer, w in enumerate(layers):
        if inputs is not None:
            inputs.append(h)
        h = h @ w.transpose(-1, -2)
        if layer < len(layers) - 1:
            h = torch.relu(h)
    return h


def backward(inputs: list[torch.Tensor], weights: list[torch.Tensor], grad: torch.Tensor) -> list[torch.Tensor]:
    """∂L/∂W_l for every layer of `forward(x, weights, inputs=inputs)` given grad = ∂L/∂y, without autograd:
    ∂L/∂W_l = δ_lᵀ a_{l−1} and δ_{l−1} = (δ_l W_l) ⊙ 1[a_{l−1} > 0], a_{l−1} = inputs[l]. The products and the
    ReLU's gradient are autograd's, so are the bits (tests/test_train.py checks it)."""
    grads = [torch.empty(0)] * len(weights)
    for layer in reversed(range(len(weights))):
        grads[layer] = _weight_grad(grad, inputs[layer])
        if layer:
            grad = torch.ops.aten.threshold_backward(grad @ weights[layer], inputs[layer], 0)
    return grads


def _weight_grad(grad: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """δᵀ a in W's layout (…, out, in). Autograd computes (aᵀ δ)ᵀ, a transposed result that costs a slow strided
    pass in every element-wise use of it (1.9 ms per step for 16 stacked LeNet tasks). The BLAS gives both
    products the same bits when out and in are both ≥ 16 (LeNet, FC: checked by tests/test_train.py); a narrower
    layer (a 10-way head) takes autograd's, whose transposed use costs little at that size."""
    if min(grad.shape[-1], a.shape[-1]) >= 16:
        return grad.transpose(-1, -2) @ a
    return (a.transpose(-1, -2) @ grad).transpose(-1, -2)
