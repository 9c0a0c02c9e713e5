"""The time estimate: a measured calibration scaled by how often the sweep does each part."""

from dataclasses import replace

import pytest

from fewshot_core import FewShotError, qformer
from fewshot_core.estimate import Calibration, calibrate, estimate_seconds, qformer_steps, qformer_trainings, unit_seconds
from fewshot_core.qformer import QFormerTrainConfig
from fewshot_core.sweep import SweepConfig, run_sweep
from fewshot_core.synthetic import SyntheticSpec, make_synthetic


def test_the_estimate_scales_units_and_qformer_steps_by_hand():
    cal = Calibration(
        seconds_per_qformer_step=0.5, seconds_per_unit=3.0, seconds_once=7.0, seconds_measured=0.0,
        seconds_per_unit_fewest_shots=1.0, shots=(1, 10), seconds_per_qformer_once=2.0,
    )  # fmt: skip
    spec = SyntheticSpec(num_classes=10, train_per_class=20, descriptions_per_class=5)
    train = QFormerTrainConfig(epochs=10, batch_size=16)
    cfg = SweepConfig(shots=[1, 10], seeds=[0, 1, 2], text_counts=[0, 5], protocol="train-split", qformer_train=train)
    assert unit_seconds(cal, 4) == pytest.approx(1.0 + 2.0 * 3 / 9)  # linear between the two measured shot counts
    units = 3 * (1.0 + 3.0)
    # train-split: one Q-Former per seed on 10 x (20 - 4 validation) images: 160 pairs, 10 steps per epoch, 10 epochs
    assert qformer_steps(cfg, spec) == 3 * 100 and estimate_seconds(cfg, cal, spec) == 7.0 + units + 3 * 2.0 + 300 * 0.5
    # support: per unit max(k images, 5 texts) x 10 classes pairs: 50 (4 steps per epoch) at 1 shot, 100 (7) at 10
    support = replace(cfg, protocol="support")
    assert qformer_steps(support, spec) == 3 * (40 + 70) and estimate_seconds(support, cal, spec) == 7.0 + units + 6 * 2.0 + 330 * 0.5
    capped = replace(support, qformer_train=replace(train, max_steps=50))
    assert qformer_steps(capped, spec) == 3 * (40 + 50)  # max_steps caps a training's steps
    assert estimate_seconds(replace(cfg, text_counts=[0]), cal, spec) == 7.0 + units  # image only: no Q-Former
    assert estimate_seconds(replace(cfg, translations=["raw", "mean-shift"]), cal, spec) == 7.0 + units  # no Q-Former translation
    assert estimate_seconds(replace(cfg, methods=["linear-probe"]), cal, spec) == 7.0 + units  # no adapter: nothing translates
    # a class of 8 images gives validation a third of it (2), not 4: 10 x 6 images, 4 steps per epoch
    assert qformer_steps(cfg, replace(spec, train_per_class=8)) == 3 * 40


@pytest.mark.parametrize("max_steps", [0, 1])  # 1: the sweep's cap would end every training within its first epoch
def test_calibration_measures_this_machine_whatever_the_step_cap(max_steps):
    train = QFormerTrainConfig(batch_size=8, max_steps=max_steps)
    cfg = SweepConfig(shots=[1, 4], text_counts=[0, 2], seeds=[0, 1], qformer_size="tiny", qformer_train=train, device="cpu")
    cal = calibrate(cfg, SyntheticSpec(num_classes=6, dim=32, train_per_class=8, test_per_class=4, descriptions_per_class=4))
    assert cal.seconds_per_qformer_step > 0 and cal.seconds_per_unit > 0 and cal.seconds_per_unit_fewest_shots > 0 and cal.shots == (1, 4)


def test_the_estimate_refuses_the_per_token_qformer_input():
    with pytest.raises(FewShotError, match="pooled Q-Former input only"):
        calibrate(SweepConfig(qformer_text_input="tokens"), SyntheticSpec(num_classes=4, dim=16))


@pytest.mark.parametrize("protocol", ["train-split", "support"])
@pytest.mark.parametrize("per_class", [16, 8])  # 8: validation takes a third of a class (2), not val_per_class (4)
def test_the_estimate_counts_the_qformers_and_steps_a_sweep_trains(tmp_path, protocol, per_class, monkeypatch):
    cfg = SweepConfig(
        shots=[1, 2], text_counts=[0, 2], seeds=[0, 1], methods=["adapter"], protocol=protocol,
        qformer_size="tiny", qformer_train=QFormerTrainConfig(epochs=3, batch_size=16, max_steps=20), device="cpu",
    )  # fmt: skip
    spec = SyntheticSpec(num_classes=10, dim=32, train_per_class=per_class, test_per_class=4, descriptions_per_class=3, seed=1)
    bundle = make_synthetic(spec)
    started, steps = [], []  # the first epoch of every Q-Former training; every optimizer step (one loss each)
    loss = qformer.translation_loss
    monkeypatch.setattr(qformer, "translation_loss", lambda *a, **k: steps.append(1) or loss(*a, **k))

    def on_progress(done: int, total: int, message: str, step: str = "", metrics: dict | None = None) -> None:
        if step == "qformer" and done == 1:
            started.append(message)

    run_sweep(bundle, cfg, tmp_path / "run", on_progress=on_progress)
    assert len(started) == qformer_trainings(cfg) == (2 if protocol == "train-split" else 4)
    assert len(steps) == qformer_steps(cfg, spec)


def test_cli_estimate_prints_json_and_refuses_bad_sizes(capsys):
    import json

    from fewshot_core.cli import main

    args = ["estimate", "--shots", "1", "2", "--texts", "0", "2", "--seeds", "3", "--protocol", "train-split", "--qformer-size", "tiny"]
    args += ["--qformer-epochs", "2", "--device", "cpu", "--classes", "6", "--images-per-class", "8", "--texts-per-class", "4"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["units"] == 6 and out["qformer_trainings"] == 3 and out["seconds"] > 0
    assert out["data"] == {"num_classes": 6, "train_per_class": 8, "descriptions_per_class": 4}
    assert main(["estimate", "--classes", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--classes" in err and err.count("\n") == 1
    assert main(["estimate", "--qformer-input", "tokens", "--classes", "4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "pooled Q-Former input only" in err and err.count("\n") == 1
