"""Executors as objects: the one function the CLI needs, and the local executor doing what the sweep did in place."""

import numpy as np
import pytest

from fewshot_core import FewShotError
from fewshot_core.executors import EXECUTORS, LOCAL, LocalExecutor, RayExecutor, make_executor
from fewshot_core.sweep import SweepConfig, run_sweep

FAST = {"shots": [1, 2], "text_counts": [0, 2], "seeds": [0], "qformer_size": "tiny", "device": "cpu", "methods": ["adapter", "zeroshot"]}


def test_make_executor_names_each_executor_and_refuses_a_bad_pair():
    assert EXECUTORS == ("local", "ray")
    assert make_executor() is LOCAL and make_executor("local", "") is LOCAL and LOCAL.name == "local"
    assert make_executor("ray") == RayExecutor(None) and make_executor("ray", "ray://head:10001").address == "ray://head:10001"
    with pytest.raises(FewShotError, match="Unknown executor 'dask'; choose one of local, ray"):
        make_executor("dask")
    with pytest.raises(FewShotError, match="--ray-address only applies with --executor ray"):
        make_executor("local", "auto")


def test_the_local_executor_checks_the_device_before_any_work(tmp_path):
    with pytest.raises(FewShotError, match="Unknown device 'tpu'"):
        LOCAL.check("tpu")
    LOCAL.check("cpu")


def test_run_units_saves_each_unit_and_a_sweep_records_its_executor(small_bundle, tmp_path):
    saved = []
    cfg = SweepConfig(**{**FAST, "translations": ["mean-shift"]})
    LocalExecutor().run_units(small_bundle, cfg, [(1, 0), (2, 0)], np.zeros(0, np.int64), None, lambda k, s, r: saved.append((k, s, r[0])))
    assert [(k, s) for k, s, _ in saved] == [(1, 0), (2, 0)]  # in order, each as it finished
    for shots, _, rows in saved:  # image only and mean shift on the sweep's head, image only on the other head
        assert sorted((r["translation"], r["texts"], r["shots"]) for r in rows) == [("mean-shift", 2, shots), ("none", 0, shots), ("none", 0, shots)]
    run_sweep(small_bundle, cfg, tmp_path / "run", executor=LOCAL)
    record = (tmp_path / "run" / "units" / "01-0.json").read_text()
    assert '"executor": "local"' in record
