"""Batched device augmentation on crafted images that encode their own index and coordinates.

Image ``i`` holds ``i + 1`` in channel 0, ``row + 1`` in channel 1 and ``col + 1`` in channel 2,
so after augmentation every pixel says which image and which source pixel it came from, and 0
marks padding.
"""
from __future__ import annotations

import pytest
import torch
from scipy.stats import binomtest

from designspace.search.augment import Augment, DeviceLoader, StreamLoader, normalize, random_crop, random_flip

N, H, W, PAD = 200, 12, 10, 3


def coded(n: int = N, h: int = H, w: int = W) -> torch.Tensor:
    x = torch.empty((n, 3, h, w), dtype=torch.uint8)
    x[:, 0] = (torch.arange(n) + 1).view(n, 1, 1)
    x[:, 1] = (torch.arange(h) + 1).view(1, h, 1)
    x[:, 2] = (torch.arange(w) + 1).view(1, 1, w)
    return x


def decode_crop(img: torch.Tensor, pad: int) -> tuple[int, int]:
    """The crop offset (dy, dx) in [-pad, pad] of one augmented coded image, checking every pixel."""
    h, w = img.shape[1:]
    valid = img[0] > 0
    assert valid.any(), "a crop holds at least one source pixel"
    r = torch.arange(h).view(h, 1).expand(h, w)
    c = torch.arange(w).view(1, w).expand(h, w)
    dys = (img[1].long() - 1 - r)[valid].unique()
    dxs = (img[2].long() - 1 - c)[valid].unique()
    assert len(dys) == 1 and len(dxs) == 1, "a crop is a rigid shift"
    dy, dx = int(dys), int(dxs)
    assert -pad <= dy <= pad and -pad <= dx <= pad
    # exactly the pixels whose source lies inside the image are valid; the rest are zero padding
    inside = ((r + dy >= 0) & (r + dy < h) & (c + dx >= 0) & (c + dx < w))
    assert torch.equal(valid, inside)
    assert (img[:, ~inside] == 0).all()
    return dy, dx


def test_random_crop_is_a_shift_within_the_padding_and_keeps_each_image():
    x = coded()
    g = torch.Generator().manual_seed(0)
    out = random_crop(x, PAD, g)
    assert out.shape == x.shape and out.dtype == torch.uint8
    offsets = set()
    for b in range(N):
        assert set(out[b, 0].unique().tolist()) <= {0, b + 1}, "pixels stay in their own image"
        offsets.add(decode_crop(out[b], PAD))
    dys = {dy for dy, _ in offsets}
    dxs = {dx for _, dx in offsets}
    assert dys == set(range(-PAD, PAD + 1)) and dxs == set(range(-PAD, PAD + 1)), "every offset is drawn"


def test_random_flip_mirrors_left_right_only_about_half_the_time():
    x = coded(400)
    out = random_flip(x, torch.Generator().manual_seed(1))
    flipped = 0
    for b in range(len(x)):
        if torch.equal(out[b], x[b]):
            continue
        assert torch.equal(out[b], x[b].flip(-1)), "a flip is horizontal (columns reversed, rows kept)"
        flipped += 1
    assert binomtest(flipped, len(x), 0.5).pvalue > 1e-3


def test_crop_by_zero_is_identity_and_pad_must_be_non_negative():
    x = coded(4)
    assert torch.equal(random_crop(x, 0), x)
    with pytest.raises(ValueError, match="pad=-1"):
        Augment(pad=-1)


def test_normalize_matches_the_formula():
    x = coded(3)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    want = (x.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    got = normalize(x, mean, std, channels_last=True)
    torch.testing.assert_close(got, want)
    assert got.is_contiguous(memory_format=torch.channels_last)


def _identity_norm() -> dict:
    # mean 0 and std 1/255 make the normalised value equal the uint8 value
    return dict(mean=(0.0,) * 3, std=(1 / 255,) * 3)


@pytest.mark.parametrize("kind", ["device", "stream"])
def test_loader_keeps_labels_with_images_and_covers_the_epoch(kind):
    x, y = coded(), torch.arange(N)
    kw = dict(_identity_norm(), augment=Augment(PAD, True), shuffle=True, seed=3)
    if kind == "device":
        loader = DeviceLoader(x, y, 32, **kw)
    else:
        loader = StreamLoader(torch.utils.data.TensorDataset(x, y), 32, workers=0, **kw)
    assert len(loader) == -(-N // 32) and loader.num_samples == N
    seen, flips = [], 0
    for xb, yb in loader:
        assert xb.dtype == torch.float32 and yb.dtype == torch.long
        xb = xb.round().to(torch.uint8)
        for img, label in zip(xb, yb):
            assert set(img[0].unique().tolist()) <= {0, int(label) + 1}, "the label is the image's own"
            # a flipped image reads its column codes backwards; un-flip it, then it is a plain crop
            row = img[2][(img[0] > 0).any(1)][0]
            row = row[row > 0]
            flipped = len(row) > 1 and bool(row[0] > row[-1])
            flips += flipped
            decode_crop(img.flip(-1) if flipped else img, PAD)
        seen += yb.tolist()
    assert sorted(seen) == list(range(N)) and seen != list(range(N)), "a shuffled permutation of the epoch"
    assert binomtest(flips, N, 0.5).pvalue > 1e-3


def test_loader_without_augmentation_returns_the_images_in_order():
    x, y = coded(50), torch.arange(50)
    loader = DeviceLoader(x, y, 16, **_identity_norm())
    xb = torch.cat([b for b, _ in loader]).round().to(torch.uint8)
    assert torch.equal(xb, x)
    assert len(DeviceLoader(x, y, 16, drop_last=True, **_identity_norm())) == 3


def test_device_loader_is_deterministic_for_a_seed():
    x, y = coded(64), torch.arange(64)
    kw = dict(_identity_norm(), augment=Augment(PAD, True), shuffle=True)
    a = [b for b, _ in DeviceLoader(x, y, 16, seed=5, **kw)]
    b = [b for b, _ in DeviceLoader(x, y, 16, seed=5, **kw)]
    c = [b for b, _ in DeviceLoader(x, y, 16, seed=6, **kw)]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not all(torch.equal(p, q) for p, q in zip(a, c))


def test_loader_rejects_float_images_and_mismatched_labels():
    with pytest.raises(ValueError, match="uint8"):
        DeviceLoader(torch.zeros(4, 3, 8, 8), torch.arange(4), 2, **_identity_norm())
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        DeviceLoader(coded(4), torch.arange(3), 2, **_identity_norm())
