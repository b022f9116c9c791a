"""Datasets: the offline digits against scikit-learn, CIFAR archives (crafted, with checksums),
missing and corrupt data errors, synthetic data and ImageFolder."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from designspace.search import data
from designspace.search.data import DatasetError, FileImages


def test_digits_are_scikit_learns_images_with_a_fixed_disjoint_split():
    ds = data.load("digits", resolution=8)  # native size: no interpolation, exact values
    assert (len(ds.train_labels), len(ds.val_labels)) == (1497, 300)
    assert ds.train_images.dtype == torch.uint8 and ds.train_images.shape == (1497, 1, 8, 8)  # grey: one channel
    ref = load_digits()
    want = np.round(ref.images * 255 / 16).astype(np.uint8)
    order = np.random.default_rng(data.DIGITS_SPLIT_SEED).permutation(1797)
    val, train = order[:300], order[300:]
    assert np.array_equal(ds.val_images[:, 0].numpy(), want[val])
    assert np.array_equal(ds.train_images[:, 0].numpy(), want[train])
    rgb = data.load("digits", resolution=8, rgb=True)  # three copies only when asked for
    assert rgb.train_images.shape == (1497, 3, 8, 8) and torch.equal(rgb.train_images[:, 2], ds.train_images[:, 0])
    assert np.array_equal(ds.train_labels.numpy(), ref.target[train])
    assert set(val).isdisjoint(train)
    assert ds.num_classes == 10 and ds.augment.flip is False  # mirrored digits are other glyphs
    again = data.load("digits", resolution=8)
    assert torch.equal(again.val_labels, ds.val_labels)


def test_digits_upsampled_to_the_default_32():
    ds = data.load("digits")
    assert ds.resolution == 32 and ds.train_images.shape[1:] == (1, 32, 32) and ds.channels == 1
    assert int(ds.train_images.max()) == 255 and int(ds.train_images.min()) == 0


def test_synthetic_is_seeded_and_shaped():
    a = data.load("synthetic", n_train=20, n_val=8, num_classes=7, resolution=16)
    b = data.load("synthetic", n_train=20, n_val=8, num_classes=7, resolution=16)
    assert a.train_images.shape == (20, 3, 16, 16) and len(a.val_labels) == 8
    assert torch.equal(a.train_images, b.train_images) and int(a.train_labels.max()) < 7
    with pytest.raises(ValueError, match="n_train=0"):
        data.load("synthetic", n_train=0)


def test_unknown_dataset_and_bad_resolution():
    with pytest.raises(ValueError, match="dataset='mnistt' is not one of .*did you mean mnist"):
        data.load("mnistt")
    with pytest.raises(ValueError, match="resolution=0"):
        data.load("digits", resolution=0)


# ------------------------------------------------------------------------------ CIFAR
def test_missing_cifar_says_where_it_looked_and_how_to_fix(tmp_path):
    with pytest.raises(DatasetError) as e:
        data.load("cifar10", root=tmp_path, download=False)
    msg = str(e.value)
    assert str(tmp_path / "cifar-10-batches-py") in msg and str(tmp_path / "cifar-10-python.tar.gz") in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in msg and "--data-root" in msg


def test_failed_download_is_reported_with_the_url(tmp_path, monkeypatch):
    import urllib.request

    def offline(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetError, match="download of https://www.cs.toronto.edu/.*cifar-100.*unreachable"):
        data.load("cifar100", root=tmp_path)
    assert not list(tmp_path.glob("*.part"))


def test_corrupt_archive_fails_its_checksum(tmp_path):
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(b"not the CIFAR-10 archive")
    with pytest.raises(DatasetError) as e:
        data.load("cifar10", root=tmp_path, download=False)
    msg = str(e.value)
    assert str(bad) in msg and "corrupt" in msg and "c58f30108f718f92721af3b95e74349a" in msg
    assert hashlib.md5(b"not the CIFAR-10 archive").hexdigest() in msg and "delete it" in msg


def _batch(n: int, seed: int, label_key: bytes) -> bytes:
    rng = np.random.default_rng(seed)
    d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), label_key: rng.integers(0, 10, n).tolist()}
    return pickle.dumps(d)


def _fake_cifar(tmp_path: Path, monkeypatch, corrupt_member: bool = False) -> dict[str, bytes]:
    """A tiny archive in the real layout; the registry's checksums are patched to match it."""
    real = data.CIFAR["cifar10"]
    files = {"data_batch_1": _batch(6, 1, b"labels"), "data_batch_2": _batch(4, 2, b"labels"),
             "test_batch": _batch(5, 3, b"labels"),
             "batches.meta": pickle.dumps({b"label_names": [f"c{i}".encode() for i in range(10)]})}
    md5 = {k: hashlib.md5(v).hexdigest() for k, v in files.items()}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for k, v in files.items():
            v = v[:-1] + b"x" if corrupt_member and k == "test_batch" else v
            info = tarfile.TarInfo(f"{real.folder}/{k}")
            info.size = len(v)
            tar.addfile(info, io.BytesIO(v))
    (tmp_path / real.archive).write_bytes(buf.getvalue())
    fake = dataclasses.replace(
        real, archive_md5=hashlib.md5(buf.getvalue()).hexdigest(),
        train=(("data_batch_1", md5["data_batch_1"]), ("data_batch_2", md5["data_batch_2"])),
        test=(("test_batch", md5["test_batch"]),), meta=("batches.meta", md5["batches.meta"], "label_names"))
    monkeypatch.setitem(data.CIFAR, "cifar10", fake)
    return files


def test_cifar_archive_is_verified_extracted_and_read(tmp_path, monkeypatch):
    files = _fake_cifar(tmp_path, monkeypatch)
    ds = data.load("cifar10", root=tmp_path, download=False)
    assert ds.train_images.shape == (10, 3, 32, 32) and ds.val_images.shape == (5, 3, 32, 32)
    b1 = pickle.loads(files["data_batch_1"])
    assert np.array_equal(ds.train_images[:6].reshape(6, -1).numpy(), b1[b"data"])  # CHW row-major layout
    assert ds.train_labels[:6].tolist() == b1[b"labels"] and ds.classes[3] == "c3"
    assert (tmp_path / "cifar-10-batches-py" / "test_batch").is_file()
    # the extracted copy is read again without the archive
    (tmp_path / "cifar-10-python.tar.gz").unlink()
    assert torch.equal(data.load("cifar10", root=tmp_path, download=False).val_images, ds.val_images)


def test_corrupt_extracted_file_fails_its_checksum(tmp_path, monkeypatch):
    _fake_cifar(tmp_path, monkeypatch, corrupt_member=True)
    with pytest.raises(DatasetError) as e:
        data.load("cifar10", root=tmp_path, download=False)
    msg = str(e.value)
    assert str(tmp_path / "cifar-10-batches-py" / "test_batch") in msg and "corrupt" in msg
    assert "delete" in msg


# ------------------------------------------------------------------------ imagefolder
def _write_images(root: Path, classes: dict[str, int]) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, n in classes.items():
        (root / c).mkdir(parents=True)
        for i in range(n):
            size = (10 + 3 * i, 7 + 2 * i)  # any size
            a = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(a).save(root / c / f"{i}.png")
    (root / "notes.txt").write_text("ignored")


def test_imagefolder_in_memory_and_streamed(tmp_path):
    _write_images(tmp_path, {"cat": 6, "dog": 4})
    ds = data.load("imagefolder", tmp_path, resolution=12, val_fraction=0.2)
    assert ds.classes == ("cat", "dog") and ds.num_classes == 2 and ds.in_memory
    assert ds.train_images.shape == (8, 3, 12, 12) and len(ds.val_labels) == 2
    assert sorted(ds.train_labels.tolist() + ds.val_labels.tolist()) == [0] * 6 + [1] * 4
    streamed = data.load("imagefolder", tmp_path, resolution=12, val_fraction=0.2, max_memory_bytes=0)
    assert isinstance(streamed.train_images, FileImages) and not streamed.in_memory
    decoded = torch.stack([streamed.train_images[i][0] for i in range(8)])
    assert torch.equal(decoded, ds.train_images)


def test_imagefolder_errors_name_the_directory(tmp_path):
    with pytest.raises(DatasetError, match=str(tmp_path / "nope")):
        data.load("imagefolder", tmp_path / "nope")
    (tmp_path / "only").mkdir()
    with pytest.raises(DatasetError, match="found 1 class folders"):
        data.load("imagefolder", tmp_path)
