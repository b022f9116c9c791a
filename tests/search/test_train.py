"""The trainer on CPU: it learns real data, is deterministic, detects divergence, reports every
epoch, survives out-of-memory, and the ``designspace train`` command runs end to end."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from torch import nn

import designspace
from designspace import NetSpec, StageSpec, StemSpec
from designspace.search import data, train
from designspace.search.train import EpochStats, Schedule, TrainingDiverged

RES = 16


def small_spec(num_classes: int = 10) -> NetSpec:
    # a small AnyNetX-style network: the kind of candidate the design spaces produce
    return NetSpec(StemSpec("simple", 16), (StageSpec("regnet", 1, 32, 2, group_width=8),
                                            StageSpec("regnet", 2, 64, 2, group_width=8),
                                            StageSpec("regnet", 2, 128, 2, group_width=8)),
                   resolution=RES, num_classes=num_classes, in_chans=1)


def small_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return designspace.build(small_spec())


@pytest.fixture(scope="module")
def digits() -> data.Dataset:
    return data.load("digits", resolution=RES)


@pytest.fixture(scope="module")
def digits_small(digits) -> data.Dataset:
    return dataclasses.replace(digits, train_images=digits.train_images[:256], train_labels=digits.train_labels[:256],
                               val_images=digits.val_images[:100], val_labels=digits.val_labels[:100])


def test_learns_digits_to_under_ten_percent_error(digits):
    seen: list[EpochStats] = []
    result = train.fit(small_model(), digits, Schedule(epochs=6, batch_size=64, lr=0.2, warmup_epochs=0.5),
                       callback=seen.append, device="cpu")
    assert seen == result.history and [s.epoch for s in seen] == [1, 2, 3, 4, 5, 6]
    assert result.val_top1_err < 0.10, result.history
    assert result.history[0].val_top1_err > result.val_top1_err  # it learned, it did not start there
    assert result.history[-1].train_loss < result.history[0].train_loss
    f = result.final
    assert 0 <= f.val_top5_err <= f.val_top1_err and f.images_per_s > 0 and f.seconds > 0
    assert result.precision == "fp32" and result.device == "cpu" and result.dataset == "digits"
    assert f.lr < 1e-3 * 0.2  # the cosine ends near zero
    json.dumps(result.to_dict())  # the schedule and history are stored as plain data
    assert Schedule.from_dict(result.to_dict()["schedule"]) == result.schedule


def test_same_seed_same_history(digits_small):
    s = Schedule(epochs=2, batch_size=32, lr=0.1, ema=0.9, label_smoothing=0.1, seed=7)
    runs = [train.fit(small_model(1), digits_small, s, device="cpu") for _ in range(2)]
    other = train.fit(small_model(1), digits_small, dataclasses.replace(s, seed=8), device="cpu")

    def key(r):
        return [(h.train_loss, h.val_top1_err, h.val_top5_err, h.lr) for h in r.history]

    assert key(runs[0]) == key(runs[1])
    assert key(runs[0]) != key(other)  # the seed drives the data order and augmentation


def test_divergence_stops_with_the_epoch(digits_small):
    with pytest.raises(TrainingDiverged) as e:
        train.fit(small_model(), digits_small, Schedule(epochs=3, batch_size=32, lr=1e6, nesterov=False), device="cpu")
    assert e.value.epoch == 1 and not math.isfinite(e.value.loss)
    assert "epoch 1" in str(e.value)


def test_callback_exception_stops_training(digits_small):
    class Pruned(Exception):
        pass

    calls = []

    def prune_after_one(stats: EpochStats) -> None:
        calls.append(stats.epoch)
        raise Pruned

    with pytest.raises(Pruned):
        train.fit(small_model(), digits_small, Schedule(epochs=5, batch_size=64), callback=prune_after_one,
                  device="cpu")
    assert calls == [1]


class _OOMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 10)

    def forward(self, x):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


def test_out_of_memory_is_reported_and_the_caller_carries_on(digits_small):
    with pytest.raises(train.OutOfMemory, match="out of memory on cpu with batch size 64.*lower the batch size"):
        train.fit(_OOMNet(), digits_small, Schedule(epochs=1, batch_size=64), device="cpu")
    result = train.fit(small_model(), digits_small, Schedule(epochs=1, batch_size=64), device="cpu")  # carries on
    assert len(result.history) == 1


def test_model_with_the_wrong_number_of_classes_is_rejected(digits_small):
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="num_classes=7.*10 classes"):
        train.fit(designspace.build(small_spec(7)), digits_small, Schedule(epochs=1), device="cpu")


def test_lr_warmup_then_cosine():
    peak, total, warm = 0.4, 100, 10
    lrs = [train.lr_at(t, total, warm, peak) for t in range(total)]
    assert lrs[0] == pytest.approx(peak / warm) and lrs[warm - 1] == pytest.approx(peak)
    assert all(b > a for a, b in zip(lrs[:warm], lrs[1:warm]))  # linear rise
    assert lrs[warm] == pytest.approx(peak) and lrs[warm + 45] == pytest.approx(peak / 2)
    assert all(b < a for a, b in zip(lrs[warm:], lrs[warm + 1:]))  # cosine fall
    # the cosine half equals torch's CosineAnnealingLR (an independent implementation)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warm)
    for t in range(warm, total):
        assert lrs[t] == pytest.approx(opt.param_groups[0]["lr"], abs=1e-12)
        opt.step()
        sched.step()
    assert train.lr_at(5, 10, 0, 1.0) == pytest.approx(0.5)


def test_no_weight_decay_on_norms_and_biases():
    model = small_model()
    decay, no_decay = train.param_groups(model, 5e-4)
    assert decay["weight_decay"] == 5e-4 and no_decay["weight_decay"] == 0.0
    ids = {id(p) for p in no_decay["params"]}
    for name, mod in model.named_modules():
        if isinstance(mod, nn.BatchNorm2d):
            assert id(mod.weight) in ids and id(mod.bias) in ids, name
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            assert id(mod.weight) not in ids, name
    assert id(model.head.fc.bias) in ids
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


@pytest.mark.parametrize("field,value", [("epochs", 0), ("lr", -1.0), ("amp", "fp8"), ("momentum", 1.5),
                                         ("warmup_epochs", 20.0), ("batch_size", 2.5), ("ema", 1.0)])
def test_schedule_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"schedule.{field}={value!r}"):
        Schedule(**{field: value})


def test_schedule_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match="schedule.lrr is not a field"):
        Schedule.from_dict({"lrr": 0.1})


def test_ema_follows_the_weights():
    model = nn.Linear(2, 1)
    from designspace.search.steps import EMA

    ema = EMA(model, decay=0.5)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    for _ in range(20):
        ema.update()
    torch.testing.assert_close(ema.module.weight, start + 1.0, atol=1e-4, rtol=0)
    assert not ema.module.weight.requires_grad


# --------------------------------------------------------------------------------- CLI
def test_cli_train_on_digits_end_to_end(tmp_path, capsys):
    from designspace.cli import main

    spec_path = tmp_path / "net.json"
    spec_path.write_text(small_spec(num_classes=3).replace(resolution=224).to_json())  # both set from the data
    out = tmp_path / "result.json"
    rc = main(["train", str(spec_path), "--data", "digits", "--resolution", str(RES), "--epochs", "1",
               "--batch-size", "64", "--lr", "0.1", "--device", "cpu", "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    last = cap.out.strip().splitlines()[-1]
    assert "on digits: top-1 error" in last and "after 1 epoch in" in last and "images/s" in last
    saved = json.loads(out.read_text())
    assert f"(cpu, {saved['threads']} thread" in last and ", seed 0, fp32)" in last  # how the digits were computed
    assert saved["seed"] == 0 and saved["device"] == "cpu" and saved["threads"] >= 1
    epoch = [l for l in cap.err.splitlines() if "epoch 1/1" in l]  # the per-epoch line on stderr
    assert epoch and "  error " in epoch[0] and "top-1" not in epoch[0]  # an error rate, labelled as one
    assert saved["spec"]["num_classes"] == 10 and saved["spec"]["resolution"] == RES
    assert saved["schedule"]["epochs"] == 1 and len(saved["history"]) == 1
    assert f"{100 * saved['history'][0]['val_top1_err']:.2f}%" in last


@pytest.mark.parametrize("argv,msg", [
    (["--epochs", "0"], "--epochs 0 must be a positive integer"),
    (["--data", "mnistt"], "--data 'mnistt' is not one of"),
    (["--amp", "fp8"], "--amp 'fp8' is not one of"),
])
def test_cli_bad_flags_print_one_line_and_exit_2(tmp_path, capsys, argv, msg):
    from designspace.cli import main

    spec_path = tmp_path / "net.json"
    spec_path.write_text(small_spec().to_json())
    assert main(["train", str(spec_path), "--data", "digits", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and msg in err


def test_cli_missing_data_is_a_clear_error(tmp_path, capsys):
    from designspace.cli import main

    spec_path = tmp_path / "net.json"
    spec_path.write_text(small_spec().to_json())
    assert main(["train", str(spec_path), "--data", "cifar10", "--data-root", str(tmp_path), "--no-download"]) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "cifar-10-python.tar.gz") in err
