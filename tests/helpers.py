"""Small shared fixtures: a synthetic permuted stream and a tiny network, so tests need no real data."""
from maskcl.nets.init import signed_constant
from maskcl.nets.mlp import MLP
from maskcl.data import synthetic_mnist, task_stream


def synthetic_stream(kind="permuted", n_tasks=3, seed=0, n_train=2000, n_test=500):
    return task_stream(kind, n_tasks, synthetic_mnist(seed, n_train, n_test), base_seed=seed)


def tiny_net(out_size=20, seed=0):
    """A small bias-free MLP 784-64-32-out with signed-constant weights."""
    net = MLP((784, 64, 32, out_size))
    return net, signed_constant(net, seed)



def dies_on_call(monkeypatch, module, name: str, call: int) -> None:
    """Make module.<name> raise KeyboardInterrupt on its `call`-th call (1-based): a run killed mid-way."""
    real, calls = getattr(module, name), []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
