"""One home per rule: every rule of designspace.rules gives the same answer on a Python number
as on a numpy array (the family and the spaces' tables), on 100,000 random draws; and timm's
own functions agree with the scalar rules (the independent oracle)."""
from __future__ import annotations

import numpy as np

from designspace import rules

N = 100_000


def _draws(seed: int = 0):
    rng = np.random.default_rng(seed)
    w0 = 8 * rng.integers(1, 32, N)
    wa = np.round(np.exp(rng.uniform(np.log(0.1), np.log(256), N)), 1)
    wm = np.round(np.exp(rng.uniform(np.log(1.5), np.log(3.0), N)), 3)
    depth = rng.integers(1, 29, N)
    return w0, wa, wm, depth


def test_regnet_quantisation_scalar_equals_table():
    w0, wa, wm, depth = _draws()
    table, valid = rules.regnet_block_widths_table(w0, wa, wm, depth)
    bad = []
    for i in range(N):
        _, ws = rules.regnet_block_widths(int(w0[i]), float(wa[i]), float(wm[i]), int(depth[i]))
        if ws != table[i, : depth[i]].tolist():
            bad.append((w0[i], wa[i], wm[i], depth[i]))
    assert not bad, bad[:5]
    assert valid.sum() == depth.sum()


def test_group_compatibility_scalar_equals_table():
    rng = np.random.default_rng(1)
    w = 8 * rng.integers(1, 300, N)
    r = rng.choice([1.0, 0.5, 0.25, 0.3, 0.6, 0.75, 0.8, 2 / 3, 4.0], N)
    g = rng.choice([1, 2, 4, 8, 16, 24, 32, 48, 64, 136], N)
    tw, tm, tg, tok = rules.regnet_stage_compat(w.astype(np.float64), r, g)
    for i in range(N):
        s = rules.regnet_stage_compat(int(w[i]), float(r[i]), int(g[i]))
        assert s == (int(tw[i]), int(tm[i]), int(tg[i]), bool(tok[i])), (w[i], r[i], g[i])


def test_se_and_channel_rules_scalar_equal_table():
    rng = np.random.default_rng(2)
    c = rng.integers(1, 2048, N)
    for ratio in (0.0, 1 / 16, 0.25, 0.125, 0.5):
        for fn in (rules.residual_se_width, rules.ds_se_width, rules.tresnet_se_width):
            t = fn(c, ratio)
            assert all(fn(int(x), ratio) == int(y) for x, y in zip(c[:20000], np.broadcast_to(t, c.shape)[:20000]))
        t = rules.regnet_se_width(c, ratio, c * 2)
        assert all(rules.regnet_se_width(int(x), ratio, 2 * int(x)) == int(y)
                   for x, y in zip(c[:20000], np.broadcast_to(t, c.shape)[:20000]))
    v = rng.uniform(1, 4000, N)
    t = rules.make_divisible(v)
    assert all(rules.make_divisible(float(x)) == int(y) for x, y in zip(v[:20000], t[:20000]))


def test_rules_equal_timms_functions():
    import torch
    from timm.layers import make_divisible
    from timm.models.regnet import adjust_widths_groups_comp, generate_regnet

    rng = np.random.default_rng(3)
    for _ in range(2000):
        v = float(rng.uniform(1, 3000))
        assert rules.make_divisible(v) == make_divisible(v)
        w, r, g = int(8 * rng.integers(2, 200)), float(rng.choice([1.0, 0.5, 0.25, 0.3, 0.75])), int(rng.choice([8, 16, 24, 64]))
        tw, tg = adjust_widths_groups_comp([w], [r], [g], 0.0)
        width, mid, groups, ok = rules.regnet_stage_compat(w, r, g)
        assert width == tw[0] and mid == int(round(tw[0] * r))
    assert rules.regnet_block_widths(24, 36.44, 2.49, 13)[1] == generate_regnet(36.44, 24, 2.49, 13, 8)[0]
    del torch
