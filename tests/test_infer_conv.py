"""Task inference on a conv net with per-task batch-norm statistics (`maskcl.infer` against the `Net` protocol):
the superposed net mixes each task's mask *and* statistics with α, so at α = e_i it is task i's own net."""
import torch

from maskcl.infer import alpha_grads, objective_fn, superpose, superpose_state
from maskcl.nets.init import signed_constant
from maskcl.nets.resnet import ResNet, init_stats

NET = ResNet(n_classes=6, nf=2)


def _tasks(k=3, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    w = [x.to(dtype) for x in signed_constant(NET, 0)]
    masks = [torch.rand(k, *x.shape, generator=g) > 0.5 for x in w]
    states = [[torch.stack([torch.randn(s.shape[1], generator=g, dtype=dtype) * 0.1,
                            torch.rand(s.shape[1], generator=g, dtype=dtype) + 0.5]) for s in init_stats(NET)]
              for _ in range(k)]
    x = torch.rand(2, 4, 3, 32, 32, generator=g, dtype=dtype)
    return w, masks, states, x


def test_superposed_net_at_a_one_hot_alpha_is_that_tasks_own_net_bit_for_bit():
    w, masks, states, x = _tasks()
    for i in range(3):
        e = torch.zeros(1, 3)
        e[0, i] = 1.0
        w_eff = [s[0] for s in superpose(w, masks, e)]
        s_eff = [s[0] for s in superpose_state(states, e)]
        own = NET.forward(x[0], [a * m[i] for a, m in zip(w, masks)], states[i])
        assert torch.equal(NET.forward(x[0], w_eff, s_eff), own)
        # the statistics as autograd leaves (task inference) change nothing in the value
        assert torch.equal(NET.forward(x[0], w_eff, [s.clone().requires_grad_() for s in s_eff]), own)


def test_alpha_gradients_include_the_statistics_and_match_finite_differences():
    w, masks, states, x = _tasks(dtype=torch.float64)
    alpha = torch.tensor([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]], dtype=torch.float64)
    grads = alpha_grads(w, masks, alpha, x, "H", net=NET, states=states)

    def J(a, g):
        w_eff = [s[0] for s in superpose(w, masks, a[None])]
        s_eff = [s[0] for s in superpose_state(states, a[None])]
        return float(objective_fn("H")(NET.forward(x[g], w_eff, s_eff), 6).mean())

    for g in range(2):
        for i in range(3):
            d = torch.zeros(3, dtype=torch.float64)
            d[i] = 1e-6
            fd = (J(alpha[g] + d, g) - J(alpha[g] - d, g)) / 2e-6
            assert abs(float(grads[g, i]) - fd) < 1e-6 * max(1.0, abs(fd))


def test_supsup_gnu_on_splitcifar_runs_through_the_runner_and_agrees_with_gg_at_one_task(tmp_path):
    """With one candidate the task is always inferred right, so GNu's accuracy after 1 task is task 0's GG
    accuracy (its own mask and statistics): a wrong mask, statistics or head in the GNu wiring breaks the equality."""
    from maskcl.runs import GGExperiment, run
    from maskcl.train import EpochConfig

    exp = GGExperiment(data="synthetic", n_tasks=2, per_task=2, width=2, train=EpochConfig(epochs=1, batch=32),
                       test_limit=40, sparsity=8, out_size=4, objectives=("H", "G"), checkpoints=(1, 2))
    res = run(exp, results=tmp_path / "r", cache=tmp_path / "c")
    gg0 = res["per_task"]["SupSup (GG)"][0]
    rows = {(r["method"], r["tasks"]): r for r in res["rows"]}
    for name in ("SupSup (GNu H)", "SupSup (GNu G)", "SupSup (GNu H, full batch)"):
        assert rows[name, 1]["task_inference"] == 100.0 and abs(rows[name, 1]["accuracy"] - gg0) < 1e-9
