"""The time estimate: a measured calibration scaled by how often the sweep does each part."""

from dataclasses import replace

import pytest

from fewshot_core.estimate import Calibration, calibrate, estimate_seconds, qformer_trainings
from fewshot_core.qformer import QFormerTrainConfig
from fewshot_core.sweep import SweepConfig, run_sweep
from fewshot_core.synthetic import SyntheticSpec


def test_the_estimate_scales_units_and_qformer_epochs_by_hand():
    cal = Calibration(seconds_per_qformer_epoch=2.0, seconds_per_unit=3.0, seconds_measured=0.0)
    cfg = SweepConfig(shots=[1, 2], seeds=[0, 1, 2], text_counts=[0, 5], protocol="train-split", qformer_train=QFormerTrainConfig(epochs=10))
    assert estimate_seconds(cfg, cal) == 3 * 10 * 2.0 + 6 * 3.0  # train-split: one Q-Former per seed
    assert estimate_seconds(replace(cfg, protocol="support"), cal) == 6 * 10 * 2.0 + 6 * 3.0  # support: one per unit
    assert estimate_seconds(replace(cfg, text_counts=[0]), cal) == 6 * 3.0  # image only: no Q-Former
    assert estimate_seconds(replace(cfg, translations=["raw", "mean-shift"]), cal) == 6 * 3.0  # no Q-Former translation


def test_calibration_measures_this_machine():
    cfg = SweepConfig(shots=[1, 4], text_counts=[0, 2], seeds=[0, 1], qformer_size="tiny", device="cpu")
    cal = calibrate(cfg, SyntheticSpec(num_classes=6, dim=32, train_per_class=8, test_per_class=4, descriptions_per_class=4))
    assert cal.seconds_per_qformer_epoch > 0 and cal.seconds_per_unit > 0
    assert cal.seconds_per_unit + 2 * cal.seconds_per_qformer_epoch <= cal.seconds_measured + 1e-6


@pytest.mark.parametrize("protocol", ["train-split", "support"])
def test_the_estimate_counts_the_qformers_a_sweep_trains(small_bundle, tmp_path, protocol):
    cfg = SweepConfig(
        shots=[1, 2], text_counts=[0, 2], seeds=[0, 1], methods=["adapter"], protocol=protocol,
        qformer_size="tiny", qformer_train=QFormerTrainConfig(epochs=1), device="cpu",
    )  # fmt: skip
    started = []  # the first epoch of every Q-Former training

    def on_progress(done: int, total: int, message: str, step: str = "", metrics: dict | None = None) -> None:
        if step == "qformer" and done == 1:
            started.append(message)

    run_sweep(small_bundle, cfg, tmp_path / "run", on_progress=on_progress)
    assert len(started) == qformer_trainings(cfg) == (2 if protocol == "train-split" else 4)
