"""How the runner builds a method's data and net from its config (the `setup` a method registers with): each
turns method(exp, ckpt, stream, net, device) into run(exp, ckpt, device)."""
from __future__ import annotations

import torch

from .data import MEAN, STD, class_split, load_cifar, load_dataset, load_mnist, synthetic_cifar, synthetic_mnist, task_stream
from .nets.mlp import MLP, mlp
from .nets.resnet import ResNet
from .paths import download_allowed
from .store import Checkpoint


def stream(method):
    """An MLP (`exp.arch`, `exp.out_size` outputs) over a permuted / rotated / split MNIST task stream."""
    def go(exp, ckpt: Checkpoint, device: torch.device) -> dict:
        data = load_dataset(exp.dataset, exp.seed)
        tasks = task_stream(exp.stream, exp.n_tasks, data, base_seed=exp.seed, device=device)
        return method(exp, ckpt, tasks, mlp(exp.arch, exp.out_size), device)
    return go


def images(method):
    """The reduced ResNet-18 over a SplitCIFAR class split (`exp.out_size` outputs when set, else per_task)."""
    def go(exp, ckpt: Checkpoint, device: torch.device) -> dict:
        split = class_split(exp.data, image_data(exp.data, exp.seed), exp.n_tasks, exp.per_task, exp.seed, device)
        return method(exp, ckpt, split, ResNet(getattr(exp, "out_size", None) or exp.per_task, exp.width,
                                               channels_last=exp.channels_last), device)
    return go


def classes(method):
    """ExSSNeT's class split: LeNet 300-100 on MNIST, the reduced ResNet-18 on CIFAR, with a validation hold-out."""
    def go(exp, ckpt: Checkpoint, device: torch.device) -> dict:
        if exp.data in ("mnist", "synthetic_mnist"):
            data = load_mnist(download=download_allowed()) if exp.data == "mnist" else synthetic_mnist(exp.seed)
            split = class_split(exp.data, data, exp.n_tasks, exp.per_task, exp.seed, device, exp.val_fraction,
                                (MEAN,), (STD,))
            return method(exp, ckpt, split, MLP((784, 300, 100, exp.per_task)), device)
        split = class_split(exp.data, image_data(exp.data, exp.seed), exp.n_tasks, exp.per_task, exp.seed, device,
                            exp.val_fraction)
        return method(exp, ckpt, split, ResNet(exp.per_task, exp.width), device)
    return go


def image_data(name: str, seed: int = 0) -> dict:
    """'cifar100' (the paper's), 'cifar10' (the real-image stand-in) from MASKCL_DATA, or 'synthetic'."""
    if name == "synthetic":
        return synthetic_cifar(10, seed)
    return load_cifar(name, download=download_allowed())


SETUPS = {"stream": stream, "images": images, "classes": classes}
