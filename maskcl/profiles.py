"""What each notebook runs under each profile — smoke (CI, seconds), quick (this CPU, minutes, real data),
paper (the papers' protocol, meant for a GPU). Reductions are stated here, in one place."""
from __future__ import annotations

from dataclasses import replace

from .methods.hopfield import HopConfig, HopExperiment
from .methods.impress import AlphaConfig, ImpressExperiment, ImpressGNExperiment, ImpressProbeExperiment
from .methods.impress_split import ImpressSplitExperiment
from .paths import project_root
from .paper import HOPSUPSUP, IMPRESS_DENSITIES, IMPRESS_SEEDS, TASKS_250, TASKS_2500
from . import runs
from .runs import CLExperiment, StreamExperiment, GGExperiment, check_profile
from .train import EpochConfig, TrainConfig

# Dense baselines need no superfluous outputs: they use 10 outputs (the paper's Table 8 prints one
# Upper/Lower Bound row for every output size).
BOUND_OUT = 10
# HopSupSup: fresh seeds beyond the paper's 20 on which the restart extension is tested after being designed on
# the failures of seeds 0-19.
HOPSUPSUP_HELD_OUT = 10
# The smoke profile's training on synthetic images (the conv notebooks): the smallest schedule at which every
# method learns its 2-class tasks well above chance (width 8, 25 steps per epoch), so a smoke run's claims can fail.
SMOKE_EPOCHS = EpochConfig(epochs=3, batch=8, lr=0.01, weight_decay=0.0)


def supsup_fig3(profile: str, seed: int = 0) -> list[StreamExperiment]:
    """SupSup Fig. 3 / Tables 3–4: GNu one-shot (H and G; first image and full batch) on PermutedMNIST for
    LeNet 300-100 (s = 100) and FC 1024-1024 (s = 200 and s = 500), with Upper and Lower Bounds and the GG
    baselines BatchE and PSP."""
    check_profile(profile)
    if profile == "paper":
        lenet = fc = dict(n_tasks=250, checkpoints=TASKS_250, chunk=50)
    elif profile == "quick":
        # LeNet: the full per-task protocol for the first 10 tasks; FC: 3 tasks at 500 steps (CPU budget).
        lenet = dict(n_tasks=10, checkpoints=(2, 5, 10), chunk=5)
        fc = dict(n_tasks=3, checkpoints=(1, 2, 3), chunk=3, train=TrainConfig(steps=500))
    else:  # smoke: proves the code path only
        lenet = fc = dict(n_tasks=3, checkpoints=(2, 3), chunk=3, train=TrainConfig(steps=30),
                          test_limit=512, dataset="auto")
    out = []
    for arch, sizes, common in (("lenet", (100,), lenet), ("fc", (200, 500), fc)):
        base = replace(StreamExperiment(arch=arch, seed=seed), **common)
        out += [replace(base, out_size=s) for s in sizes]
        out += [replace(base, method=m, out_size=BOUND_OUT) for m in ("upper_bound", "lower_bound")]
        out.append(replace(base, method="batche", out_size=BOUND_OUT, objectives=()))  # GG: task identity given
        if arch == "lenet" or profile != "quick":  # PSP on FC costs minutes per task on this CPU
            out.append(replace(base, method="psp", out_size=BOUND_OUT))
    return out


def supsup_fig6(profile: str, seed: int = 0) -> list[StreamExperiment]:
    """SupSup Fig. 6 / Table 8: output size s ∈ {25, 100, 200} × objective {H, G}, GNu one-shot from the first
    image, LeNet 300-100 and FC 1024-1024 on PermutedMNIST; the bounds are Fig. 3's runs."""
    check_profile(profile)
    if profile == "paper":
        lenet = fc = dict(n_tasks=250, checkpoints=TASKS_250, chunk=50)
    elif profile == "quick":
        # LeNet: the full protocol for 10 tasks, every s. FC: the full protocol for 5 tasks, s = 25 only — the
        # H/G split needs well-trained masks (at 200 steps H and G agree), and FC costs ≈ 19 s per mask here.
        lenet = dict(n_tasks=10, checkpoints=(2, 5, 10), chunk=10)
        fc = dict(n_tasks=5, checkpoints=(2, 5), chunk=5)
    else:
        lenet = fc = dict(n_tasks=3, checkpoints=(2, 3), chunk=3, train=TrainConfig(steps=30), test_limit=512,
                          dataset="auto")
    fc_sizes = (25,) if profile == "quick" else (25, 100, 200)
    out = [replace(StreamExperiment(arch=arch, out_size=s, decide=("first",), seed=seed), **common)
           for arch, common, sizes in (("lenet", lenet, (25, 100, 200)), ("fc", fc, fc_sizes)) for s in sizes]
    return out + [e for e in supsup_fig3(profile, seed) if e.method in ("upper_bound", "lower_bound")]


def supsup_fig5_left(profile: str, seed: int = 0) -> list[StreamExperiment]:
    """SupSup Fig. 5-left / Table 6 and Fig. 11-left: RotatedMNIST (36 tasks, 10° apart), FC 1024-1024, s = 200;
    SupSup GNu with binary inference (H) from the full test batch, and the top-γ interpolation towards one-shot;
    BatchE (GG), PSP (GG), Upper and Lower Bound."""
    check_profile(profile)
    if profile == "paper":
        common = dict(n_tasks=36, checkpoints=(6, 12, 18, 24, 30, 36), chunk=12)
    elif profile == "quick":  # the first 6 rotations (0°–50°), 300 steps per task, 2000 test images per task
        common = dict(n_tasks=6, checkpoints=(2, 4, 6), chunk=6, train=TrainConfig(steps=300), test_limit=2000)
    else:
        common = dict(n_tasks=3, checkpoints=(2, 3), chunk=3, train=TrainConfig(steps=30), test_limit=512,
                      dataset="auto")
    base = replace(StreamExperiment(arch="fc", stream="rotated", seed=seed), **common)
    supsup = replace(base, out_size=200, inference="binary", objectives=("H",), decide=("full",),
                     gammas=(0.02, 0.1, 0.2, 0.3, 0.4))
    dense = [replace(base, method=m, out_size=BOUND_OUT, objectives=()) for m in ("batche", "psp", "upper_bound",
                                                                                    "lower_bound")]
    return [supsup, *dense]


def supsup_fig5_right(profile: str, seed: int = 0) -> list[StreamExperiment]:
    """SupSup Fig. 5-right / Table 7 and Fig. 10, PermutedMNIST. Fig. 5-right: FC 1024-1024, s = 500 — SupSup GNu H
    and BatchE with one-shot task inference (first image and full batch), Upper Bound. Fig. 10: ABatchE (H and M)
    for b ∈ {1, 2, 4, 8, 16}, LeNet 300-100 and FC 1024-1024 with s = 100."""
    check_profile(profile)
    if profile == "paper":
        fc = lenet = dict(n_tasks=250, checkpoints=TASKS_250, chunk=50)
    elif profile == "quick":  # FC: 5 tasks at 300 steps; LeNet: 10 tasks at the full protocol; 2000 test images
        fc = dict(n_tasks=5, checkpoints=(2, 5), chunk=5, train=TrainConfig(steps=300), test_limit=2000)
        lenet = dict(n_tasks=10, checkpoints=(2, 5, 10), chunk=10, test_limit=2000)
    else:
        fc = lenet = dict(n_tasks=3, checkpoints=(2, 3), chunk=3, train=TrainConfig(steps=30), test_limit=512,
                          dataset="auto")
    base = replace(StreamExperiment(arch="fc", out_size=500, objectives=("H",), decide=("first",), seed=seed), **fc)
    fig10 = [replace(StreamExperiment(arch=a, out_size=100, method="batche", objectives=(), abatche=(1, 2, 4, 8, 16),
                                seed=seed), **common) for a, common in (("lenet", lenet), ("fc", fc))]
    return [base, replace(base, method="batche", decide=("first", "full")),
            replace(base, method="upper_bound", out_size=BOUND_OUT), *fig10]


def supsup_fig4(profile: str, seed: int = 0) -> list[StreamExperiment]:
    """SupSup Fig. 4 / Table 5: LeNet 300-100, s = 500, PermutedMNIST — GNu one-shot (H and G, first image),
    NNs (H; no task identity at all) and the Upper Bound, after 500 … 2500 tasks."""
    check_profile(profile)
    if profile == "paper":
        common = dict(n_tasks=2500, checkpoints=TASKS_2500, chunk=250)
    elif profile == "quick":  # the full per-task protocol, 20 tasks
        common = dict(n_tasks=20, checkpoints=(5, 10, 15, 20), chunk=10)
    else:
        common = dict(n_tasks=3, checkpoints=(2, 3), chunk=3, train=TrainConfig(steps=30), test_limit=512,
                      dataset="auto")
    base = replace(StreamExperiment(arch="lenet", out_size=500, decide=("first",), seed=seed), **common)
    return [base, replace(base, method="nns", objectives=("H",)),
            replace(base, method="upper_bound", out_size=BOUND_OUT)]


def hopsupsup(profile: str) -> list[HopExperiment]:
    """SupSup Fig. 7–8: HopSupSup on SplitMNIST, one run per seed (paper: 20 seeds; quick: the first 10); then
    the extension — the same runs recovering up to 3 times, keeping the lowest-entropy mask (`HopConfig.restarts`).
    paper also runs seeds 20-29 both ways: the extension's restart points were chosen on the failures of seeds
    0-19, so these fresh seeds are its held-out test."""
    check_profile(profile)
    if profile == "smoke":
        faithful = [HopExperiment(seed=s, dataset="auto", hop=HopConfig(hidden=64, max_steps=10, test_limit=256))
                    for s in range(2)]
    else:
        seeds = range(HOPSUPSUP["seeds"] + HOPSUPSUP_HELD_OUT if profile == "paper" else 10)
        faithful = [HopExperiment(seed=s) for s in seeds]
    return faithful + [replace(e, hop=replace(e.hop, restarts=3)) for e in faithful]


def impresslearn(profile: str) -> list[ImpressExperiment]:
    """ImpressLearn Fig. 2, 3, 6, 7, 8: one run per (stream, density, seed). Paper: 7 densities × 3 seeds,
    heterogeneous bases up to 25 (RotatedMNIST) / 100 (PermutedMNIST), homogeneous and random up to 240."""
    check_profile(profile)
    large = (10, 25, 50, 100, 150, 200, 240)
    if profile == "paper":
        return [ImpressExperiment(stream=st, density=d, seed=s, heterogeneous=het, homogeneous=large, random=large,
                                  chunk=50)
                for st, het in (("rotated", (5, 10, 25)), ("permuted", (5, 10, 25, 50, 100)))
                for d in IMPRESS_DENSITIES for s in IMPRESS_SEEDS]
    if profile == "quick":  # one density and seed, small bases, 300 steps, basis-GN on 10 tasks, 2000 test images
        common = dict(density=0.10, heterogeneous=(5, 10, 25), homogeneous=(10, 25, 50), random=(10, 25, 50),
                      basis_gn=10, mask_steps=300, alpha=AlphaConfig(steps=300), test_limit=2000, chunk=35)
    else:
        common = dict(density=0.10, heterogeneous=(2, 3), homogeneous=(2, 4), random=(2, 4), n_new=2, basis_gn=2,
                      n_incorrect=2, mask_steps=20, alpha=AlphaConfig(steps=20), test_limit=256, dataset="auto")
    return [ImpressExperiment(stream=st, **common) for st in ("rotated", "permuted")]


def impress_gn(profile: str) -> ImpressGNExperiment:
    """ImpressLearn §4.2: one-shot GN among the real-valued masks of 250 PermutedMNIST tasks (quick: 10 tasks
    over a basis of 10 at 300 mask steps, 1000 test images; α still trained 3 and 5 epochs)."""
    check_profile(profile)
    if profile == "paper":
        return ImpressGNExperiment(chunk=50)
    if profile == "quick":
        return ImpressGNExperiment(n_tasks=10, n_basis=10, mask_steps=300, test_limit=1000, chunk=10)
    return ImpressGNExperiment(n_tasks=3, n_basis=2, epochs=(1, 2), mask_steps=20, test_limit=256, dataset="auto")


def impress_probe(profile: str) -> list[ImpressProbeExperiment]:
    """Notebook 07's RotatedMNIST ablation (`impress.LAYOUTS`): where new tasks lie relative to the basis
    rotations, and α's length and learning rate (3× the steps, 5× the lr). quick: 300 steps for masks and α."""
    check_profile(profile)
    if profile == "paper":
        return [ImpressProbeExperiment()]
    if profile == "quick":
        return [ImpressProbeExperiment(mask_steps=300, alphas=((300, 0.002), (900, 0.002), (300, 0.01)),
                                       test_limit=2000)]
    return [ImpressProbeExperiment(layouts=("between basis rotations, |M| = 5",), mask_steps=20,
                                   alphas=((20, 0.002), (20, 0.01)), test_limit=256, dataset="auto")]


def supsup_gg(profile: str) -> list[GGExperiment]:
    """SupSup Fig. 2-right / Table 2 and Fig. 11-right: SplitCIFAR in scenario GG — SupSup for every ER k, with
    and without Transfer; Upper Bound, Separate Heads (± Rand W), BatchE (± Rand W); and Transfer with half the
    epochs on every task after the first (Fig. 11-right).

    paper: SplitCIFAR100, 20 tasks × 5 classes, 250 epochs per task (appendix D.1, and what the official launch
    scripts pass; their yaml's 100 is overridden), k ∈ {1, …, 32}, seeds (= class orders) 0–4 as the paper's 5;
    Fig. 11-right: task 0 250 epochs, later tasks 50 with Transfer vs 100 without.
    quick: the real-image stand-in SplitCIFAR10 (the first 3 of its 5 tasks × 2 classes), the first 1000
    training images of each task, 6 epochs, 1000 test images per task, k ∈ {8, 32} (at 1/100 of the paper's steps
    sparser masks have not left chance yet: k = 1, 2 stay at 50 % and k = 4 reaches 58 % after 4 epochs of task 0);
    Fig. 11-right: 6 epochs for task 0, later tasks 3 with Transfer vs 6 without.
    smoke: synthetic images, 2 tasks, width 8, `SMOKE_EPOCHS`. quick and smoke: seed 0."""
    check_profile(profile)
    if profile == "paper":
        common = dict(data="cifar100", n_tasks=20, per_task=5, train=EpochConfig(epochs=250))
        ks, fig11 = (1, 2, 4, 8, 16, 32), dict(first_epochs=250, epochs=(50, 100))
    elif profile == "quick":
        common = dict(data="cifar10", n_tasks=3, per_task=2, train=EpochConfig(epochs=6), train_limit=1000,
                      test_limit=1000)
        ks, fig11 = (8, 32), dict(first_epochs=6, epochs=(3, 6))
    else:
        common = dict(data="synthetic", n_tasks=2, per_task=2, width=8, train=SMOKE_EPOCHS, test_limit=40)
        ks, fig11 = (1, 8), dict(first_epochs=3, epochs=(2, 3))
    runs = []
    for seed in range(5) if profile == "paper" else (0,):
        runs += _gg_seed(GGExperiment(seed=seed, **common), ks, fig11)
    return runs


def supsup_gnu_cifar(profile: str) -> list[GGExperiment]:
    """SupSup in scenario GNu on SplitCIFAR (a configuration the official code does not have): masks trained as in
    `supsup_gg` (ER k = 32, per-task batch-norm statistics), then the task inferred at test time among the first
    k masks, each with its own statistics — one-shot H and G from the first image and from the full batch of 128,
    and binary H (full batch) with the top-γ variants. The head has s = 5 × per_task outputs, the 4 × per_task
    beyond the real classes being G's superfluous ones (SupSup §3.6).
    paper: SplitCIFAR100, 20 tasks × 5 classes, 250 epochs, seed 0. quick: the stand-in SplitCIFAR10, all 5 tasks
    × 2 classes, the first 2000 training images of each task, 6 epochs, 1000 test images per task.
    smoke: synthetic images, 3 tasks, width 8, `SMOKE_EPOCHS`."""
    check_profile(profile)
    if profile == "paper":
        common = dict(data="cifar100", n_tasks=20, per_task=5, train=EpochConfig(epochs=250),
                      checkpoints=(2, 5, 10, 15, 20))
    elif profile == "quick":
        common = dict(data="cifar10", n_tasks=5, per_task=2, train=EpochConfig(epochs=6), train_limit=2000,
                      test_limit=1000, checkpoints=(2, 3, 4, 5))
    else:
        common = dict(data="synthetic", n_tasks=3, per_task=2, width=8, train=SMOKE_EPOCHS, test_limit=40,
                      checkpoints=(2, 3))
    base = GGExperiment(sparsity=32, out_size=5 * common["per_task"], **common)
    return [replace(base, objectives=("H", "G")),
            replace(base, objectives=("H",), inference="binary", decide=("full",), gammas=(0.2, 0.4))]


def _gg_seed(base: GGExperiment, ks, fig11) -> list[GGExperiment]:
    """One seed's runs of `supsup_gg`; Fig. 11-right's runs only for seed 0."""
    runs = [replace(base, sparsity=k, transfer=t, curves=True) for k in ks for t in (False, True)]
    runs.append(replace(base, sparsity=ks[0], transfer=True, transfer_rescale=False, curves=True))  # D.5's ablation
    runs += [replace(base, method=m, rand_w=r) for m in ("upper_bound_gg", "separate_heads", "batche_gg")
             for r in ((False,) if m == "upper_bound_gg" else (False, True))]
    k_fig11 = 8
    for transfer, epochs in zip((True, False), fig11["epochs"] if base.seed == 0 else ()):
        first = None if epochs == fig11["first_epochs"] else fig11["first_epochs"]
        run = replace(base, sparsity=k_fig11, transfer=transfer, first_epochs=first, curves=True,
                      train=replace(base.train, epochs=epochs))
        if run not in runs:
            runs.append(run)
    return runs


def exssnet_mnist(profile: str) -> list[CLExperiment]:
    """ExSSNeT Tables 2, 3 and 11, S-MNIST column: SupSup, SSNeT and ExSSNeT, each ± KKT, and the dense Naive,
    Individual and Multitask rows, on SplitMNIST (5 tasks × 2 classes, LeNet 300-100, mask density 0.1).

    paper: 30 epochs per task for every method (A.3; "all methods perform an equal number of epochs"): SupSup
    30 mask epochs; SSNeT and ExSSNeT 15 mask + 15 weight epochs (the official README splits CIFAR's 100 as
    50 + 50); dense rows 30 epochs; seeds 0-2 (the paper's three runs). It runs on this CPU (≈ 13 s per task).
    quick: seed 0 and a fifth of the epochs (6 = 3 + 3). smoke: synthetic MNIST-shaped data, 1 + 1 epochs."""
    check_profile(profile)
    if profile == "paper":
        seeds, epochs, common = (0, 1, 2), 30, dict(data="mnist")
    elif profile == "quick":
        seeds, epochs, common = (0,), 6, dict(data="mnist")
    else:
        seeds, epochs, common = (0,), 2, dict(data="synthetic_mnist", train_limit=256, test_limit=200)
    return [e for seed in seeds for e in _cl_runs(CLExperiment(seed=seed, **common), epochs)]


def _cl_runs(base: CLExperiment, epochs: int) -> list[CLExperiment]:
    """One seed's ExSSNeT-paper runs with `epochs` per task: the masked methods ± KKT, then the dense rows."""
    half = epochs // 2
    mask, weights = replace(base.mask, epochs=half), replace(base.weights, epochs=epochs - half)
    runs = [replace(base, variant="supsup", kkt=k, mask=replace(mask, epochs=epochs), weights=replace(weights, epochs=0))
            for k in (False, True)]
    runs += [replace(base, variant=v, kkt=k, mask=mask, weights=weights) for v in ("ssnet", "exssnet")
             for k in (False, True)]
    return runs + [replace(base, method="dense_cl", variant=v, weights=replace(weights, epochs=epochs))
                   for v in ("naive", "individual", "multitask")]


def exssnet_cifar(profile: str) -> list[CLExperiment]:
    """ExSSNeT on SplitCIFAR with the reduced ResNet-18 (non-affine batch norm, one set of statistics per task):
    Tables 2, 3, 11 (S-CIFAR100 column) — SupSup, SSNeT, ExSSNeT ± KKT and the dense rows over 5 tasks; Fig. 2 —
    one task with every class, accuracy vs mask density for SupSup, SSNeT (= ExSSNeT on a single task) and the
    fully trained net; Fig. 4 — the validation curves of the Table runs; Fig. 5 — SupSup vs ExSSNeT at low
    densities; Tables 9-10 — KKT's k and number of batches.

    paper: SplitCIFAR100, 5 tasks × 20 classes, 100 epochs per task (SupSup 100; SSNeT / ExSSNeT 50 + 50, the
    official README's split), augmented (crop + flip), seeds 0-2; Fig. 2 at densities 0.1 … 0.9, Fig. 5 at
    0.02 … 0.1, Tables 9-10 on seed 0. It needs CIFAR-100 and a GPU.
    quick: the real-image stand-in SplitCIFAR10 (5 tasks × 2 classes), the first 500 training images of each
    task, 4 epochs (2 + 2), 500 validation and test images per task, seed 0; Fig. 2 on one 10-way task (2000
    images, 4 epochs) at densities 0.1, 0.5, 0.9; no Fig. 5 or Tables 9-10.
    smoke: synthetic images, 2 tasks, width 8, `SMOKE_EPOCHS` (2 + 2 epochs)."""
    check_profile(profile)
    aug = EpochConfig(epochs=2, batch=64, lr=0.01, weight_decay=0.0, augment=True)
    if profile == "paper":
        base = CLExperiment(data="cifar100", n_tasks=5, per_task=20, mask=aug, weights=replace(aug, lr=1e-3))
        seeds, epochs, fig2 = (0, 1, 2), 100, dict(per_task=100, densities=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9))
        fig5 = (0.02, 0.04, 0.06, 0.08)
    elif profile == "quick":
        base = CLExperiment(data="cifar10", n_tasks=5, per_task=2, mask=aug, weights=replace(aug, lr=1e-3),
                            train_limit=500, test_limit=500)
        seeds, epochs, fig2, fig5 = (0,), 4, dict(per_task=10, densities=(0.1, 0.5, 0.9), train_limit=2000), ()
    else:
        base = CLExperiment(data="synthetic", n_tasks=2, per_task=2, width=8, mask=SMOKE_EPOCHS,
                            weights=replace(SMOKE_EPOCHS, lr=1e-3), test_limit=40)
        seeds, epochs, fig2, fig5 = (0,), 4, dict(per_task=10, densities=(0.1, 0.5)), ()
    runs = [e for seed in seeds for e in _cl_runs(replace(base, seed=seed), epochs)]
    one = dict(n_tasks=1, per_task=fig2["per_task"], **({"train_limit": fig2["train_limit"]} if "train_limit" in fig2 else {}))
    for d in fig2["densities"]:
        for r in _cl_runs(replace(base, density=d, **one), epochs):
            if r.variant in ("supsup", "ssnet") and not r.kkt and r not in runs:
                runs.append(r)
    runs += [r for r in _cl_runs(replace(base, **one), epochs) if r.variant == "individual"]  # fully trained
    for d in fig5:
        runs += [r for r in _cl_runs(replace(base, density=d), epochs) if r.variant in ("supsup", "exssnet") and not r.kkt]
    if profile == "paper":  # Tables 9-10: ExSSNeT + KKT on seed 0, k at 10 batches, then batches at k = 10
        kkt = next(r for r in runs if r.variant == "exssnet" and r.kkt and r.seed == 0 and r.n_tasks == base.n_tasks)
        runs += [replace(kkt, kkt_k=k) for k in (1, 5, 20, 50)] + [replace(kkt, kkt_batches=b) for b in (2, 5, 50, 100)]
    return runs


def impress_split(profile: str) -> list[ImpressSplitExperiment]:
    """ImpressLearn Fig. 4, 9, 10 and Table 2's SplitCIFAR row: heterogeneous, homogeneous and random bases (plain
    and, heterogeneous and homogeneous, hybrid), basis-GN, the SupSup line and the incorrect mask X, on the reduced
    ResNet-18 (nf = 20, Kaiming-normal, 21 weight layers).

    paper: SplitCIFAR100, 20 tasks × 5 classes — tasks 0..14 make the heterogeneous bases (2, 5, 10, 15 masks),
    tasks 15..19 are the new tasks; homogeneous and random bases of 5 … 75 masks (Table 3's |M_hom|); the 7
    densities × seeds 0-2; masks by SupSup's GG training (Adam lr 1e-3, weight decay 1e-4, batch 128, the official
    yaml's 100 epochs); α by Table 3 (Adam lr 0.02, weight decay 0.1, λ = 0.005, batch 64) for 25 epochs (≈ 1000
    steps, as on MNIST). It needs CIFAR-100 and a GPU.
    quick: the real-image stand-in SplitCIFAR10, 5 tasks × 2 classes — tasks 0-2 make the heterogeneous bases (2, 3
    masks), tasks 3-4 are new; homogeneous and random bases of 3 and 10 masks; density 0.10, seed 0; the first
    1000 training and test images of each task; 3 epochs for masks and α; masks at Adam lr 0.01 without weight
    decay, batch 64 (at 1/60 of the paper's steps, lr 1e-3 leaves masks at chance); channels_last convolutions.
    smoke: synthetic images, width 8, `SMOKE_EPOCHS` for masks, 2 epochs of batch 8 for α."""
    check_profile(profile)
    if profile == "paper":
        return [ImpressSplitExperiment(density=d, seed=s) for d in IMPRESS_DENSITIES for s in IMPRESS_SEEDS]
    quick_mask = EpochConfig(epochs=3, batch=64, lr=0.01, weight_decay=0.0)
    common = dict(n_tasks=5, per_task=2, heterogeneous=(2, 3), n_new=2, basis_gn=3, n_incorrect=3,
                  alpha=EpochConfig(epochs=3, batch=64, lr=0.02, weight_decay=0.1))
    if profile == "quick":
        return [ImpressSplitExperiment(data="cifar10", homogeneous=(3, 10), random=(3, 10), mask=quick_mask,
                                       train_limit=1000, test_limit=1000, channels_last=True, **common)]
    return [ImpressSplitExperiment(data="synthetic", width=8, homogeneous=(2, 4), random=(2, 4), test_limit=40,
                                   **{**common, "alpha": replace(common["alpha"], epochs=2, batch=8)},
                                   mask=SMOKE_EPOCHS)]


# The profile functions behind each notebook, by its number: what `python -m maskcl data` checks before a run.
NOTEBOOKS = {"01": (supsup_fig3,), "02": (supsup_fig6,), "03": (supsup_fig5_left,), "04": (supsup_fig5_right,),
             "05": (supsup_fig4,), "06": (hopsupsup,), "07": (impresslearn, impress_gn, impress_probe), "08": (supsup_gg,),
             "09": (exssnet_mnist,), "10": (exssnet_cifar,), "11": (impress_split,), "12": (supsup_gnu_cifar,)}
REAL_DATA = ("mnist", "cifar10", "cifar100")


def matches(exp, where: dict[str, str]) -> bool:
    """Whether every config field named in `where` reads its value (as text)."""
    return all(str(getattr(exp, name, None)) == value for name, value in where.items())


def select(exps: list, where: dict[str, str]) -> list:
    """The runs matching `where`, e.g. {"arch": "lenet"}: a notebook's paper profile for the LeNet rows only; an
    error when a field is unknown or nothing matches."""
    for name in where:
        if not any(hasattr(e, name) for e in exps):
            raise ValueError(f"no run of this notebook has a config field {name!r}")
    out = [e for e in exps if matches(e, where)]
    if not out:
        raise ValueError(f"no run matches {where}")
    return out


def parse_where(text: str) -> dict[str, str]:
    """'arch=lenet,out_size=100' → {'arch': 'lenet', 'out_size': '100'} (empty text: no condition)."""
    pairs = [p.strip() for p in text.split(",") if p.strip()]
    if bad := [p for p in pairs if "=" not in p]:
        raise ValueError(f"a condition is FIELD=VALUE, got {bad[0]!r}")
    return dict(p.split("=", 1) for p in pairs)


def with_stored_paper_runs(profile_fn, profile: str, seeds, where_text: str, device: str = "auto",
                           curve: tuple[str, ...] = ("method", "arch", "out_size"), paper_seeds=None) -> list[dict]:
    """The results of profile_fn(profile, seed) for every seed (profile_fn(profile) when seeds is None), except
    that each curve — runs agreeing on the config fields `curve` — whose paper-profile run matching `where_text`
    (e.g. 'arch=lenet') the results store holds is shown by the stored runs instead, one per seed of
    `paper_seeds` (default: `seeds`) that the store holds (each result records its profile and seed). Nothing
    runs at the paper profile here: `python -m maskcl run NN --profile paper --where …` does."""
    def experiments(p, seeds_=seeds):
        return profile_fn(p) if seeds_ is None else [e for seed in seeds_ for e in profile_fn(p, seed)]

    where = parse_where(where_text) if profile != "paper" else {}
    stored = [runs.stored(e) for e in experiments("paper", seeds if paper_seeds is None else paper_seeds)
              if where and matches(e, where)]
    stored = [r for r in stored if r is not None]
    curves = {tuple(r["config"].get(f) for f in curve) for r in stored}
    own = [e for e in experiments(profile) if tuple(getattr(e, f, None) for f in curve) not in curves]
    return [runs.run(e, profile=profile, device=device) for e in own] + stored


def notebook_experiments(notebook: str, profile: str) -> list:
    """Every run notebook `notebook` (its name or number, e.g. '08_supsup_gg_splitcifar' or '08') makes under
    `profile`."""
    number = notebook[:2]
    names = {p.stem for p in (project_root() / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    if number not in NOTEBOOKS or (notebook != number and notebook not in names):
        raise ValueError(f"no notebook {notebook!r}; known: {sorted(NOTEBOOKS)} or their names {sorted(names)}")
    out = []
    for fn in NOTEBOOKS[number]:
        got = fn(profile)
        out += got if isinstance(got, list) else [got]
    return out


def datasets(notebooks: list[str], profile: str) -> list[str]:
    """The real data sets these notebooks read under `profile` (synthetic and 'auto' fall-backs need none)."""
    names = {getattr(e, "data", None) or getattr(e, "dataset", None)
             for nb in notebooks for e in notebook_experiments(nb, profile)}
    return [d for d in REAL_DATA if d in names]
