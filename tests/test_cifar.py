"""CIFAR loading (binary and python layouts, md5 checks, clear errors), SplitCIFAR class splits, augmentation."""
import os
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from maskcl.data import DataError, class_split, crop_flip, load_cifar, md5
from maskcl.data import cifar as cifar_module

SHARED = Path(os.environ.get("MASKCL_DATA", "data"))


def _binary_records(n, label_bytes, seed):
    rng = np.random.RandomState(seed)
    rec = rng.randint(0, 256, (n, label_bytes + 3072)).astype(np.uint8)
    rec[:, label_bytes - 1] = np.arange(n) % 100 if label_bytes == 2 else np.arange(n) % 10
    if label_bytes == 2:
        rec[:, 0] = rec[:, 1] // 5  # coarse label
    return rec


def _fake(monkeypatch, root: Path, name: str, layout: str):
    """Write small files in the canonical layout and point the md5 table at their sums."""
    ds = cifar_module.DATASETS[name]
    lay = ds.binary if layout == "binary" else ds.python
    folder = root / lay.folder
    folder.mkdir(parents=True)
    sums, records = {}, {}
    for i, f in enumerate(lay.md5s):
        rec = _binary_records(200, ds.label_bytes, i)
        records[f] = rec
        if layout == "binary":
            rec.tofile(folder / f)
        else:
            batch = {b"data": rec[:, ds.label_bytes:], ds.label_key: rec[:, ds.label_bytes - 1].tolist()}
            (folder / f).write_bytes(pickle.dumps(batch, protocol=2))
        sums[f] = md5(folder / f)
    monkeypatch.setitem(cifar_module.DATASETS, name, replace(ds, **{layout: replace(lay, md5s=sums)}))
    return records


@pytest.mark.parametrize("name, layout", [("cifar100", "binary"), ("cifar100", "python"), ("cifar10", "binary"),
                                          ("cifar10", "python")])
def test_canonical_layouts_load_with_labels_and_planes(tmp_path, monkeypatch, name, layout):
    records = _fake(monkeypatch, tmp_path, name, layout)
    data = load_cifar(name, tmp_path)
    ds = cifar_module.DATASETS[name]
    lay = ds.binary if layout == "binary" else ds.python
    first = records[lay.train[0]]
    x, y = data["train"]
    assert x.dtype == torch.uint8 and x.shape == (200 * len(lay.train), 3, 32, 32) and y.dtype == torch.int64
    assert y[:200].tolist() == first[:, ds.label_bytes - 1].tolist()  # CIFAR-100: the fine label, not the coarse
    # record layout: 1024 red bytes, then green, then blue, each 32×32 row-major
    assert x[7, 0, 0, :5].tolist() == first[7, ds.label_bytes:ds.label_bytes + 5].tolist()
    assert x[7, 2, 31, 31].item() == first[7, -1]
    assert data["test"][0].shape == (200, 3, 32, 32)


def test_missing_data_names_files_md5s_and_how_to_download(tmp_path):
    with pytest.raises(DataError) as err:
        load_cifar("cifar100", tmp_path)
    msg = str(err.value)
    for text in ("cifar-100-binary/", "train.bin", "6172c7755cfe09b2fe270c85cebc1b15", "cifar-100-python/",
                 "MASKCL_DATA", "download=True", "cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8"):
        assert text in msg
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_corrupt_file_is_named_and_left_alone(tmp_path, monkeypatch):
    _fake(monkeypatch, tmp_path, "cifar10", "binary")
    bad = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    content = bytearray(bad.read_bytes())
    content[100] ^= 0xFF
    bad.write_bytes(bytes(content))
    with pytest.raises(DataError, match="data_batch_3.bin is corrupt"):
        load_cifar("cifar10", tmp_path)
    assert bad.read_bytes() == bytes(content)


def test_python_layout_refuses_anything_but_arrays(tmp_path, monkeypatch):
    """Even a file whose md5 matches is unpickled by an unpickler that builds only numpy arrays."""
    _fake(monkeypatch, tmp_path, "cifar10", "python")
    evil = tmp_path / "cifar-10-batches-py" / "test_batch"
    evil.write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    ds = cifar_module.DATASETS["cifar10"]
    sums = {**ds.python.md5s, "test_batch": md5(evil)}
    monkeypatch.setitem(cifar_module.DATASETS, "cifar10", replace(ds, python=replace(ds.python, md5s=sums)))
    with pytest.raises(DataError, match="refusing to unpickle os.system"):
        load_cifar("cifar10", tmp_path)


def test_unknown_data_set_is_an_error():
    with pytest.raises(ValueError, match="unknown CIFAR data set"):
        load_cifar("cifar1000")


@pytest.mark.skipif(not (SHARED / "cifar-10-batches-bin").is_dir(), reason="real CIFAR-10 not in MASKCL_DATA")
def test_real_cifar10_binary_version():
    data = load_cifar("cifar10", SHARED)
    x, y = data["train"]
    assert x.shape == (50000, 3, 32, 32) and y.bincount().tolist() == [5000] * 10
    assert data["test"][1].bincount().tolist() == [1000] * 10
    mean = x.float().div(255).mean((0, 2, 3))
    assert torch.allclose(mean, torch.tensor([0.4914, 0.4822, 0.4465]), atol=1e-4)


def test_class_split_follows_the_official_class_order():
    y = torch.arange(100).repeat(3)
    data = {s: (torch.zeros(300, 3, 32, 32, dtype=torch.uint8), y) for s in ("train", "test")}
    split = class_split("cifar100", data, n_tasks=20, per_task=5, seed=3)
    order = np.random.RandomState(3).permutation(100)
    assert split.classes.flatten().tolist() == order.tolist()
    for t in (0, 7, 19):
        rows = split.indices(t, "train")
        _, labels = split.inputs("train", rows)
        assert sorted(set(y[rows].tolist())) == sorted(order[5 * t:5 * t + 5].tolist())
        assert labels.tolist() == [list(order[5 * t:5 * t + 5]).index(c) for c in y[rows].tolist()]
    exssnet = class_split("cifar100", data, n_tasks=5, per_task=20, seed=3)
    assert exssnet.classes.flatten().tolist() == order.tolist() and exssnet.classes.shape == (5, 20)
    with pytest.raises(ValueError, match="need 105 classes"):
        class_split("cifar100", data, n_tasks=21, per_task=5)


def test_crop_flip_equals_torchvision_per_image():
    """The batched augmentation is, image by image, torchvision's pad-4 crop then flip at the drawn offsets."""
    x = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = crop_flip(x, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    off = torch.randint(0, 9, (2, 16), generator=g)
    flip = torch.rand(16, generator=g) < 0.5
    for i in range(16):
        ref = TF.crop(TF.pad(x[i], [4]), int(off[0, i]), int(off[1, i]), 32, 32)
        ref = TF.hflip(ref) if flip[i] else ref
        assert torch.equal(out[i], ref)
    assert torch.equal(out, crop_flip(x, torch.Generator().manual_seed(5)))
    assert not torch.equal(out, crop_flip(x, torch.Generator().manual_seed(6)))


def test_download_asks_for_the_canonical_archive_and_env_turns_it_on(tmp_path, monkeypatch):
    import shutil

    import torchvision.datasets.utils as tv_utils

    from maskcl import runs, setups

    staged = tmp_path / "staged"
    _fake(monkeypatch, staged, "cifar100", "binary")
    calls = []

    def fake_download(url, root, md5):
        calls.append((url, md5))
        shutil.copytree(staged / "cifar-100-binary", Path(root) / "cifar-100-binary")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download)
    root = tmp_path / "data"
    with pytest.raises(DataError):
        load_cifar("cifar100", root)  # not without asking
    assert calls == []
    monkeypatch.setenv("MASKCL_DATA", str(root))
    monkeypatch.setenv("MASKCL_DOWNLOAD", "1")
    data = setups.image_data("cifar100")
    assert calls == [("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8")]
    assert data["train"][0].shape == (200, 3, 32, 32)
    setups.image_data("cifar100")
    assert len(calls) == 1  # present now: no second download


def test_normalisation_constants_are_cifar10s_published_channel_statistics():
    """MEAN/STD are CIFAR-10's per-channel training statistics in R, G, B order (0.4914, 0.4822, 0.4465) /
    (0.2470, 0.2435, 0.2616), to 3 digits as in the SupSup code; a class split uses them by default."""
    assert cifar_module.MEAN == pytest.approx((0.4914, 0.4822, 0.4465), abs=6e-4)
    assert cifar_module.STD == pytest.approx((0.2470, 0.2435, 0.2616), abs=6e-4)
    y = torch.arange(10).repeat(2)
    data = {s: (torch.zeros(20, 3, 32, 32, dtype=torch.uint8), y) for s in ("train", "test")}
    split = class_split("cifar10", data, n_tasks=5, per_task=2)
    assert split.mean == cifar_module.MEAN and split.std == cifar_module.STD
    x, _ = split.inputs("train", torch.tensor([0]))
    assert torch.allclose(x[0, :, 0, 0], -torch.tensor(cifar_module.MEAN) / torch.tensor(cifar_module.STD))


@pytest.mark.skipif(not (SHARED / "cifar-10-batches-bin").is_dir(), reason="real CIFAR-10 not in MASKCL_DATA")
def test_real_cifar10_normalised_by_a_class_split_has_zero_mean_unit_std_per_channel():
    data = load_cifar("cifar10", SHARED)
    split = class_split("cifar10", data, n_tasks=5, per_task=2)
    x, _ = split.inputs("train", torch.arange(0, 50000, 5))
    assert torch.allclose(x.mean((0, 2, 3)), torch.zeros(3), atol=0.01)
    assert torch.allclose(x.std((0, 2, 3)), torch.ones(3), atol=0.01)
