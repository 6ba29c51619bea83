"""The reduced ResNet-18 of GEM / SupSup's SplitCIFAR experiments (Lopez-Paz & Ranzato 2017; SupSup §4.1).

nf = 20 channels at the first stage (20, 40, 80, 160), BasicBlocks [2, 2, 2, 2], a 3×3 stem with stride 1,
1×1-conv shortcuts where the shape changes, average pooling over 4×4, and a 1×1-conv head. No biases anywhere.
Batch norm is *non-affine* (no learned parameters) and keeps running statistics; SupSup keeps one set of
statistics per task (appendix D.1), so they are an argument of the forward pass, stored with the task's mask.

Weights are plain tensors in the order of `net.names` (21 convolutions for nf = 20: stem, 16 block convs,
3 shortcuts, head); `net.bn_channels` lists the 20 batch norms in the order the forward pass meets them.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


EVAL_BATCH = 500  # test images per forward pass when scoring (memory only; results do not depend on it)


@dataclass(frozen=True)
class Conv:
    name: str
    shape: tuple[int, int, int, int]  # (out, in, kh, kw)
    stride: int

    @property
    def padding(self) -> int:
        return self.shape[-1] // 2


@dataclass(frozen=True)
class ResNet:
    """Reduced ResNet-18: `nf` stem channels (the paper's 20; width is a parameter), `n_classes` outputs."""

    n_classes: int = 5
    nf: int = 20
    blocks: tuple[int, ...] = (2, 2, 2, 2)
    in_channels: int = 3
    channels_last: bool = False  # run the convolutions in channels_last layout (faster on CPU, other rounding)

    @property
    def convs(self) -> list[Conv]:
        out = [Conv("conv1", (self.nf, self.in_channels, 3, 3), 1)]
        planes_in = self.nf
        for stage, n_blocks in enumerate(self.blocks):
            planes = self.nf * 2 ** stage
            for b in range(n_blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                pre = f"layer{stage + 1}.{b}"
                out += [Conv(f"{pre}.conv1", (planes, planes_in, 3, 3), stride),
                        Conv(f"{pre}.conv2", (planes, planes, 3, 3), 1)]
                if stride != 1 or planes_in != planes:
                    out.append(Conv(f"{pre}.shortcut", (planes, planes_in, 1, 1), stride))
                planes_in = planes
        return out + [Conv("linear", (self.n_classes, planes_in, 1, 1), 1)]

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [c.shape for c in self.convs]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.convs]

    @property
    def bn_channels(self) -> list[int]:
        """One non-affine batch norm after every convolution but the head."""
        return [c.shape[0] for c in self.convs[:-1]]

    @property
    def n_weights(self) -> int:
        return sum(torch.Size(s).numel() for s in self.shapes)

    def forward(self, x: torch.Tensor, weights: list[torch.Tensor], state: list[torch.Tensor] | None = None,
                train: bool = False, head: bool = True) -> torch.Tensor:
        """The `Net` protocol's forward: `forward` below, with the task's batch-norm statistics as its state."""
        return forward(x, self, weights, state, train=train, head=head)

    def init_state(self, device="cpu") -> list[torch.Tensor]:
        """The `Net` protocol's per-task state: fresh batch-norm statistics (`init_stats`)."""
        return init_stats(self, device)


def init_stats(net: ResNet, device="cpu") -> list[torch.Tensor]:
    """Fresh running statistics: per batch norm, a (2, C) tensor of mean 0 and variance 1."""
    return [torch.stack([torch.zeros(c), torch.ones(c)]).to(device) for c in net.bn_channels]


def forward(x: torch.Tensor, net: ResNet, weights: list[torch.Tensor], stats: list[torch.Tensor] | None = None,
            train: bool = True, head: bool = True, affine: list[torch.Tensor] | None = None, momentum: float = 0.1,
            eps: float = 1e-5) -> torch.Tensor:
    """Logits (n, n_classes) of images x (n, 3, 32, 32) under `weights` (net.convs order, already masked); with
    `head=False` the penultimate features (n, 8·nf), the pooled input of the head.

    Batch norm: `train=True` normalises with the batch's statistics and, when `stats` is given, updates them in
    place (exponential average with `momentum`, as torch); `train=False` normalises with `stats`. `affine`
    (per batch norm a (2, C) tensor of scale and shift) makes them torch's standard affine batch norm.
    With `net.channels_last` every convolution runs in that layout: 1.3–1.4× faster on this CPU, but not
    bit-identical to the default (benchmarks/bench_resnet.py), so it is opt-in.

    Stacked nets (the `Net` protocol's groups): weights (G, *shape) and statistics (G, 2, C) with x (G, n, 3, 32,
    32) run G nets, one per group, in turn → (G, n, n_classes). Statistics that require a gradient (task
    inference's superposed statistics) receive one in evaluation mode (`_bn_eval`).
    """
    if weights[0].dim() == 5:
        return torch.stack([forward(x[g], net, [w[g] for w in weights], None if stats is None else
                                    [s[g] for s in stats], train, head, affine, momentum, eps)
                            for g in range(len(x))])
    if net.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    if not train and stats is None:
        raise ValueError("evaluation (train=False) needs running statistics")
    convs, w, bns = net.convs, iter(weights), iter(range(len(net.bn_channels)))

    def conv_bn(h, conv):
        out = F.conv2d(h, next(w), stride=conv.stride, padding=conv.padding)
        b = next(bns)
        mean, var = (stats[b][0], stats[b][1]) if stats is not None else (None, None)
        scale, shift = (affine[b][0], affine[b][1]) if affine is not None else (None, None)
        if not train and stats[b].requires_grad:
            return _bn_eval(out, mean, var, eps)
        return F.batch_norm(out, mean, var, scale, shift, training=train, momentum=momentum, eps=eps)

    layers = iter(convs)
    h = F.relu(conv_bn(x, next(layers)))
    conv = next(layers)
    while conv.name != "linear":
        block = conv.name.rsplit(".", 1)[0]
        out = F.relu(conv_bn(h, conv))
        out = conv_bn(out, next(layers))
        conv = next(layers)
        if conv.name == f"{block}.shortcut":
            h = conv_bn(h, conv)
            conv = next(layers)
        h = F.relu(out + h)
    h = F.avg_pool2d(h, 4)
    return F.conv2d(h, next(w)).flatten(1) if head else h.flatten(1)


def _bn_eval(h: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, eps: float) -> torch.Tensor:
    """Non-affine batch norm in evaluation mode, (h − μ)/√(σ² + ε), whose running statistics receive a gradient
    (torch's batch norm gives them none). The value is torch's, bit for bit; the gradient to μ and σ² comes from
    the formula, the one to h from torch's batch norm (the straight-through pattern of `masks.straight_through`)."""
    exact = F.batch_norm(h, mean.detach(), var.detach(), training=False, eps=eps)
    formula = (h.detach() - mean[:, None, None]) * torch.rsqrt(var[:, None, None] + eps)
    return exact + (formula - formula.detach())


def batch_stats(net: ResNet, weights: list[torch.Tensor], batches) -> list[torch.Tensor]:
    """Statistics estimated afresh under fixed `weights`: every batch norm's cumulative average, over the image
    batches, of the batch mean and unbiased variance (torch's BatchNorm with momentum=None)."""
    stats = init_stats(net, weights[0].device)
    with torch.no_grad():
        for b, x in enumerate(batches):
            forward(x, net, weights, stats, train=True, momentum=1.0 / (b + 1))
    return stats
