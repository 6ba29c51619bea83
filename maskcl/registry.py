"""Every method, registered once, where it is written: its name, the config dataclass that describes one run, its
`VERSION` (part of the key of its results) and how the runner sets up its data and net.

    @register("psp", version=VERSION, config="StreamExperiment", setup="stream")
    def run(exp, ckpt, stream, net, device) -> dict: ...

Setups (`maskcl.setups`): "stream" (an MLP over a permuted/rotated/split MNIST task stream, `StreamExperiment`),
"images" (the reduced ResNet-18 over a SplitCIFAR class split, `GGExperiment`), "classes" (ExSSNeT's class
split, `CLExperiment`); None: the method loads its own data, run(exp, ckpt, device). Every module of
`maskcl.methods` is imported by the runner, so a new method needs no line anywhere else.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Method:
    name: str
    run: Callable
    version: int
    config: str  # the name of the config dataclass of its runs
    setup: str | None  # "stream" | "images" | "classes" | None


METHODS: dict[str, Method] = {}


def register(name: str, *, version: int, config: str, setup: str | None = None):
    """Decorator: the function is method `name`'s run."""
    if setup not in (None, "stream", "images", "classes"):
        raise ValueError(f"unknown setup {setup!r}; choose 'stream', 'images', 'classes' or None")

    def add(fn: Callable) -> Callable:
        if name in METHODS and METHODS[name].run.__qualname__ != fn.__qualname__:
            raise ValueError(f"method {name!r} is registered twice")
        METHODS[name] = Method(name, fn, version, config, setup)
        return fn
    return add


def get(name: str, config: str | None = None) -> Method:
    """The registered method `name` (an error naming the choices when unknown, or when `config` is not its)."""
    _import_all()
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {sorted(METHODS)}")
    m = METHODS[name]
    if config is not None and m.config != config:
        raise ValueError(f"{name!r} runs are configured by {m.config}, not {config}")
    return m


def names(config: str | None = None) -> list[str]:
    _import_all()
    return sorted(n for n, m in METHODS.items() if config is None or m.config == config)


def _import_all() -> None:
    """Import every module of maskcl.methods (each registers its methods as it is imported)."""
    import importlib
    import pkgutil

    from . import methods

    for info in pkgutil.iter_modules(methods.__path__):
        importlib.import_module(f"{methods.__name__}.{info.name}")
