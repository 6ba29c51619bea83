"""ExSSNeT's building blocks: free-mask algebra, sparse overlap (eq. 2), exclusive weight training, KNN and KKT."""
import torch
import torch.nn.functional as F

from maskcl.methods.exssnet import exclusive_weight, free_mask, kkt_source, knn_predict, sparse_overlap
from maskcl.nets.mlp import forward


def b(values):
    return torch.tensor(values, dtype=torch.bool)


def test_free_mask_and_sparse_overlap_on_hand_made_masks():
    m1 = [b([1, 1, 0, 0]), b([1, 0])]
    m2 = [b([0, 1, 1, 0]), b([0, 1])]
    m3 = [b([1, 1, 1, 1]), b([1, 1])]
    assert [f.tolist() for f in free_mask(m1, [])] == [m.tolist() for m in m1]
    assert [f.tolist() for f in free_mask(m2, [m1])] == [[False, False, True, False], [False, True]]
    free3 = free_mask(m3, [m1, m2])
    assert [f.tolist() for f in free3] == [[False, False, False, True], [False, False]]
    assert sparse_overlap(m2, free_mask(m2, [m1])) == 1 / 3  # one of M2's three weights was used by M1
    assert sparse_overlap(m3, free3) == 5 / 6


def test_exclusive_training_leaves_earlier_tasks_bit_identical_and_ssnet_does_not():
    """Two tasks share some weights; training task 2 exclusively changes no output of task 1's subnetwork, while
    training every weight of M2 (SSNeT) does."""
    g = torch.Generator().manual_seed(0)
    shapes = [(16, 8), (3, 16)]
    w0 = [torch.randn(*s, generator=g) for s in shapes]
    m1 = [torch.rand(*s, generator=g) < 0.5 for s in shapes]
    m2 = [torch.rand(*s, generator=g) < 0.5 for s in shapes]
    x, y = torch.randn(32, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
    before = forward(x, [w * m for w, m in zip(w0, m1)])
    assert sparse_overlap(m2, free_mask(m2, [m1])) > 0
    for exclusive in (True, False):
        w = [t.clone().requires_grad_() for t in w0]
        free = free_mask(m2, [m1]) if exclusive else [None, None]
        opt = torch.optim.SGD(w, lr=0.5)
        for _ in range(5):
            loss = F.cross_entropy(forward(x, [exclusive_weight(a, m, f) for a, m, f in zip(w, m2, free)]), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        after = forward(x, [a.detach() * m for a, m in zip(w, m1)])
        assert torch.equal(after, before) == exclusive
        changed = [(a.detach() != b_) for a, b_ in zip(w, w0)]
        if exclusive:  # only free weights moved
            assert all(bool((c & ~f).sum() == 0) for c, f in zip(changed, free_mask(m2, [m1])))


def test_knn_matches_a_brute_force_reference():
    g = torch.Generator().manual_seed(1)
    tx, ty = torch.randn(40, 5, generator=g), torch.randint(0, 3, (40,), generator=g)
    qx = torch.randn(25, 5, generator=g)
    for k in (1, 3, 7):
        got = knn_predict(tx, ty, qx, k, 3)
        for i, q in enumerate(qx):
            order = sorted(range(40), key=lambda j: float(((tx[j] - q) ** 2).sum()))[:k]
            votes = [sum(int(ty[j]) == c for j in order) for c in range(3)]
            top = [c for c in range(3) if votes[c] == max(votes)]
            if len(top) == 1:
                assert int(got[i]) == top[0]
            else:  # a tie goes to the class whose neighbours are nearer in total
                near = {c: sum(float(((tx[j] - q) ** 2).sum().sqrt()) for j in order if int(ty[j]) == c) for c in top}
                assert int(got[i]) == min(near, key=near.get)


def test_kkt_picks_the_task_that_explains_a_relabelled_task_and_falls_back_otherwise():
    """The new task relabels an old one: only that old task's features separate its classes."""
    g = torch.Generator().manual_seed(2)
    y = torch.randint(0, 2, (80,), generator=g)
    noise = lambda: torch.randn(80, 6, generator=g)  # noqa: E731
    useful = noise() + 4.0 * F.one_hot(y, 6).float()
    source, knn = kkt_source([noise(), useful, noise()], y, n_train=60, k=5, n_classes=2)
    assert source == 1 and knn[1] > 0.9 and max(knn[0], knn[2]) < 0.6
    constant = torch.zeros(80, 6)  # every sample the same: the KNN votes one class, which is not above chance
    balanced = torch.arange(80) % 2
    assert kkt_source([constant], balanced, n_train=60, k=5, n_classes=2) == (None, [0.5])
    assert kkt_source([], y, n_train=60, k=5, n_classes=2) == (None, [])
