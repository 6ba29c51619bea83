"""GNu scoring, which every GNu number passes through: a wrong task decision makes its whole test batch wrong
(`scored`), decisions per task (`decided`), and the mean rows (`result_rows`), on hand-made inputs."""
import pytest
import torch

from maskcl.infer import binary
from maskcl.methods.supsup import decided, result_rows, scored


def test_scored_counts_a_batch_only_when_its_task_was_inferred():
    correct = torch.tensor([100.0, 90.0, 128.0, 10.0])  # right predictions per test batch with the own mask
    guess = torch.tensor([2, 0, 2, 2])  # the task inferred for each batch
    acc, hit = scored(correct, guess, task=2, n=400)
    assert acc == pytest.approx(100 * (100 + 128 + 10) / 400)  # batch 1 was given to task 0: all of it wrong
    assert hit == pytest.approx(75.0)
    assert scored(correct, torch.zeros(4, dtype=torch.long), task=2, n=400) == (0.0, 0.0)


class _Stream:
    """task t's test split is t+1 batches of 2 images whose values name the task."""

    def task_data(self, task, split, limit=None):
        x = torch.full((2 * (task + 1), 1), float(task))
        return x[:limit], torch.zeros(len(x[:limit]), dtype=torch.long)


def test_decided_scores_each_task_with_its_own_guesses():
    stream = _Stream()
    # guess task 0 for every batch; each batch has both of its images right under the own mask
    choose = lambda x: torch.zeros(len(x) // 2, dtype=torch.long)  # noqa: E731
    correct = lambda t, x, y: torch.full((len(x) // 2,), 2.0)  # noqa: E731
    acc, hit = decided(stream, 3, None, choose, correct)
    assert acc == [100.0, 0.0, 0.0] and hit == [100.0, 0.0, 0.0]
    choose_own = lambda x: x[::2, 0].long()  # noqa: E731 — reads the task off the images
    acc, hit = decided(stream, 3, None, choose_own, correct)
    assert acc == [100.0, 100.0, 100.0] and hit == [100.0, 100.0, 100.0]


def test_result_rows_average_over_the_first_k_tasks_in_a_fixed_order():
    per_task = {"GG": [90.0, 80.0, 70.0],
                "G|full|3": [60.0, 30.0, 0.0], "task-inference G|full|3": [100.0, 50.0, 0.0],
                "H|first|2": [90.0, 80.0], "task-inference H|first|2": [100.0, 100.0],
                "H|first|3": [90.0, 0.0, 60.0], "task-inference H|first|3": [100.0, 0.0, 100.0]}
    rows = result_rows(per_task, (2, 3))
    assert rows[:2] == [{"method": "SupSup (GG)", "tasks": 2, "accuracy": 85.0},
                        {"method": "SupSup (GG)", "tasks": 3, "accuracy": 80.0}]
    assert [(r["method"], r["tasks"], r["accuracy"], r["task_inference"]) for r in rows[2:]] == [
        ("SupSup (GNu G, full batch)", 3, 30.0, 50.0),
        ("SupSup (GNu H)", 2, 85.0, 100.0),
        ("SupSup (GNu H)", 3, 50.0, 200 / 3)]
    shuffled = dict(reversed(list(per_task.items())))  # a resumed run stores its labels in another order
    assert result_rows(shuffled, (2, 3)) == rows


def test_binary_inference_falls_back_to_the_best_task_on_ties(monkeypatch):
    """Algorithm 2 with all survivors tied at the median would never shrink; it then keeps the single best."""
    from maskcl import infer

    grads = iter([torch.tensor([[0.0, 0.0, 0.0, -1.0]])])  # a second round would raise StopIteration
    monkeypatch.setattr(infer, "alpha_grads", lambda *a, **k: next(grads))  # the readable path (fast=False)
    masks = [torch.zeros(4, 2, 2, dtype=torch.bool)]
    # the median keeps tasks 0-3 (all ≤ 0.0), so the first round is stuck at 4 survivors: the fallback picks task 3
    assert binary([torch.zeros(2, 2)], masks, torch.zeros(1, 1, 2), fast=False).tolist() == [3]
