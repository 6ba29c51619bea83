
import pytest
import torch

from maskcl.data import (MEAN, MNIST_FILES, STD, DataError, batch_order, load_mnist, mnist_available,
                         synthetic_mnist, task_stream)
from maskcl.data.streams import PERMUTATION_STRIDE
from tests.helpers import synthetic_stream

real = pytest.mark.skipif(not mnist_available(), reason="real MNIST not found under $MASKCL_DATA")


def test_missing_data_names_files_md5_and_env_var(tmp_path):
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path)
    msg = str(err.value)
    for name, md5 in MNIST_FILES.items():
        assert name in msg and md5 in msg
    assert "MASKCL_DATA" in msg


def test_corrupt_file_is_reported_and_left_untouched(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        (raw / name).write_bytes(b"not an archive " + name.encode())
    before = {p.name: p.read_bytes() for p in raw.iterdir()}
    with pytest.raises(DataError, match="corrupt"):
        load_mnist(tmp_path)
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == before


@real
def test_real_mnist_loads_verified():
    d = load_mnist()
    assert d["train"][0].shape == (60000, 784) and d["test"][0].shape == (10000, 784)
    assert d["train"][0].dtype == torch.uint8
    assert torch.bincount(d["test"][1]).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_permuted_stream_seed_0_is_the_official_permutations_and_seeds_share_no_task():
    data = synthetic_mnist(0, 20, 10)
    official = [torch.randperm(784, generator=torch.Generator().manual_seed(i)) for i in range(3)]  # task i: seed i
    assert all(torch.equal(p, q) for p, q in zip(task_stream("permuted", 3, data, base_seed=0).perms, official))
    perms = [tuple(p.tolist()) for s in range(3) for p in task_stream("permuted", 3, data, base_seed=s).perms]
    assert len(set(perms)) == 9  # under the old rule (seed + task) seed s, task i was seed s + 1, task i − 1
    with pytest.raises(ValueError, match="at most"):
        task_stream("permuted", PERMUTATION_STRIDE + 1, data)


def test_permuted_stream_every_task_permuted_from_its_seed():
    s = synthetic_stream("permuted", n_tasks=4, seed=7)
    for i in range(4):
        expected = torch.randperm(784, generator=torch.Generator().manual_seed(PERMUTATION_STRIDE * 7 + i))
        assert torch.equal(s.perms[i], expected)
        assert not torch.equal(s.perms[i], torch.arange(784))
    x, y = s.task_data(2, "test")
    images = synthetic_mnist(7, 2000, 500)["test"][0].float() / 255.0  # the helper's base data
    assert torch.equal(x, ((images - MEAN) / STD)[:, s.perms[2]])  # normalised, then permuted: exactly
    assert torch.equal(y, s.y["test"])


def test_batched_inputs_apply_each_rows_task():
    s = synthetic_stream("permuted", n_tasks=3)
    idx = torch.tensor([[0, 1], [2, 3], [4, 5]])
    x, y = s.inputs("train", idx, torch.tensor([[0], [1], [2]]))
    for t in range(3):
        alone, _ = s.inputs("train", idx[t], torch.tensor(t))
        assert torch.equal(x[t], alone)


def test_rotated_stream_angles_and_fill():
    s = synthetic_stream("rotated", n_tasks=10)
    x0, _ = s.task_data(0, "test")
    assert torch.allclose(x0, (s.x["test"] - MEAN) / STD)
    x9, _ = s.task_data(9, "test")  # 90 degrees counter-clockwise
    expected = (torch.rot90(s.x["test"].view(-1, 28, 28), 1, dims=(1, 2)).reshape(-1, 784) - MEAN) / STD
    assert float((x9 - expected).abs().lt(1e-5).float().mean()) > 0.99
    x4, _ = s.task_data(4, "test")  # 40 degrees: the corners come from outside the image, filled with 0
    assert torch.allclose(x4[:, 0], torch.full((len(x4),), (0 - MEAN) / STD))
    with pytest.raises(ValueError, match="at most 36"):
        task_stream("rotated", 37, synthetic_mnist(0, 10, 10))


def test_split_stream_class_pairs_keep_labels():
    s = synthetic_stream("split", n_tasks=5)
    for t in range(5):
        _, y = s.task_data(t, "train")
        assert set(y.unique().tolist()) <= {2 * t, 2 * t + 1} and len(y) > 0


def test_unknown_stream_is_an_error():
    with pytest.raises(ValueError, match="unknown task stream"):
        task_stream("shuffled", 2, synthetic_mnist(0, 10, 10))


def test_batch_order_is_epochs_and_deterministic():
    a = batch_order(100, 5, 40, "k", 1)
    assert a.shape == (5, 40)
    assert sorted(a.flatten()[:100].tolist()) == list(range(100))  # first epoch is a permutation
    assert torch.equal(a, batch_order(100, 5, 40, "k", 1))
    assert not torch.equal(a, batch_order(100, 5, 40, "k", 2))
