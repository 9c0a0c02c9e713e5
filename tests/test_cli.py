import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fewshot_core.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, env_extra=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "fewshot_core", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def test_help_lists_subcommands():
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("download", "verify-dataset", "features"):
        assert command in out.stdout


def test_verify_dataset_prints_json(pets_root):
    out = run_cli("verify-dataset", "--dataset", "pets", "--root", str(pets_root))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["num_classes"] == 4 and report["num_train"] == 12 and report["num_test"] == 12
    assert report["class_names"] == ["Abyssinian", "American Bulldog", "Bengal", "German Shorthaired"]
    assert report["unreadable_images"] == ["images/Abyssinian_4.jpg"]


def test_wrong_folder_exits_nonzero_without_traceback(cub_root):
    out = run_cli("verify-dataset", "--dataset", "pets", "--root", str(cub_root))
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and "is not a Oxford-IIIT Pet folder" in out.stderr
    assert "Traceback" not in out.stderr


def test_features_command_caches(cub_root, tmp_path, capsys):
    args = [
        "features",
        "--dataset",
        "cub",
        "--root",
        str(cub_root),
        "--model",
        "fewshot-tiny",
        "--pretrained",
        "",
        "--cache",
        str(tmp_path / "c"),
        "--workers",
        "0",
    ]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["train"] == {**first["train"], "images": 12, "cache_hit": False}
    assert second["train"]["cache_hit"] and second["test"]["cache_hit"]


def test_missing_weights_is_one_line(cub_root, capsys):
    code = main(["features", "--dataset", "cub", "--root", str(cub_root), "--model", "RN50", "--pretrained", "openai", "--device", "cpu"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Could not download") and err.count("\n") == 1


def _tiny_cub_reproduce(cub_root, tmp_path, descriptions: dict) -> list[str]:
    """``reproduce`` on the tiny CUB with the tiny CLIP and these descriptions (written to ``tmp_path/d.json``)."""
    (tmp_path / "d.json").write_text(json.dumps(descriptions))
    return ["reproduce", "--dataset", "cub", "--root", str(cub_root), "--model", "fewshot-tiny", "--pretrained", ""] + [
        "--descriptions",
        str(tmp_path / "d.json"),
    ]


def test_reproduce_end_to_end_on_a_tiny_dataset(cub_root, tmp_path, capsys):
    desc = {
        "Black-footed Albatross": ["a large seabird with dark plumage", "long narrow wings", "a pale ring at the bill"],
        "laysan albatross": ["white head and body", "dark upper wings", "pink bill"],
        "003.Sooty_Albatross": ["sooty brown all over", "a thin white eye crescent"],
        "Northern Cardinal": ["bright red"],
    }
    args = _tiny_cub_reproduce(cub_root, tmp_path, desc)
    args += [
        "--shots",
        "1",
        "2",
        "--texts",
        "0",
        "2",
        "--seeds",
        "2",
        "--qformer-size",
        "tiny",
        "--qformer-epochs",
        "2",
        "--cache",
        str(tmp_path / "c"),
        "--run-dir",
        str(tmp_path / "run"),
    ]
    args += ["--qformer-input", "tokens", "--json"]  # the per-token path, end to end
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Table 1 · cub · fewshot-tiny · protocol support" in out and "zero-shot CLIP" in out
    summary = json.loads(out.strip().splitlines()[-1])  # --json: the last line is Table 1 as one object
    assert summary["dataset"] == "cub" and summary["num_classes"] == 3 and summary["seeds"] == 2 and 0 <= summary["zero_shot"] <= 100
    assert [r["shots"] for r in summary["rows"]] == [1, 2] and all(len(r["image_only"]) == 2 for r in summary["rows"])
    cell = summary["rows"][0]["translations"]["qformer"]
    assert cell["texts"] == 2 and cell["gain_ci95"][0] <= cell["gain"] <= cell["gain_ci95"][1]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["features"]["descriptions_matched"] == 3
    assert config["features"]["description_keys_unmatched"] == ["Northern Cardinal"]
    assert len(config["features"]["descriptions_sha256"]) == 64 and config["features"]["descriptions"].endswith("d.json")
    assert config["sweep"]["qformer_text_input"] == "tokens"


def test_reproduce_zero_shot_only_prints_table_and_json(tmp_path, capsys):
    args = ["reproduce", "--dataset", "synthetic", "--methods", "zeroshot", "--shots", "1", "--texts", "0", "--seeds", "1"]
    assert main([*args, "--cache", str(tmp_path / "c"), "--run-dir", str(tmp_path / "run"), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "no few-shot results yet" in lines and any(line.startswith("zero-shot CLIP: ") for line in lines)
    summary = json.loads(lines[-1])
    assert (
        summary["rows"] == [] and summary["num_classes"] == 200 and summary["zero_shot"] == pytest.approx(float(lines[-3].split(": ")[1]), abs=0.005)
    )


def test_reproduce_needs_descriptions_for_real_data(cub_root, tmp_path, capsys):
    assert main(["reproduce", "--dataset", "cub", "--root", str(cub_root), "--cache", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "--descriptions (a JSON file or description set)" in err
    assert not (tmp_path / "c" / "features").exists()  # refused before any image was encoded


def test_describe_command_prints_a_json_summary_last(cub_root, tmp_path):
    out = run_cli("describe", "--dataset", "cub", "--root", str(cub_root), "--source", "attributes", "--classes", "2", "--cache", str(tmp_path))
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["classes_done"] == 2 and summary["descriptions"] == 2 and summary["store"].startswith(str(tmp_path))


def test_describe_with_a_bad_prompt_is_one_line(cub_root, capsys):
    assert main(["describe", "--dataset", "cub", "--root", str(cub_root), "--source", "local", "--prompt", "Describe {thing}"]) == 2
    assert "must contain {class_name}" in capsys.readouterr().err


def test_import_descriptions_reports_matches(cub_root, tmp_path, capsys):
    (tmp_path / "d.json").write_text(
        json.dumps({"black-footed albatross": ["dark", "big bird"], "Sooty Albatross": ["sooty"], "Bald Eagle": ["white head"]})
    )
    assert (
        main(["import-descriptions", "--dataset", "cub", "--root", str(cub_root), "--file", str(tmp_path / "d.json"), "--cache", str(tmp_path / "c")])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["matched"] == {"Black footed Albatross": "black-footed albatross", "Sooty Albatross": "Sooty Albatross"}
    assert report["unmatched_keys"] == ["Bald Eagle"] and report["classes_without_descriptions"] == ["Laysan Albatross"]
    from fewshot_core.descriptions.json_io import load_descriptions

    assert load_descriptions(report["store"], ["Black footed Albatross", "Laysan Albatross", "Sooty Albatross"]) == {
        "Black footed Albatross": ["dark", "big bird"],
        "Sooty Albatross": ["sooty"],
    }


def test_judge_descriptions_prints_every_line_as_json(cub_root, tmp_path):
    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.generate import DescribeRequest, describe

    cache = tmp_path / "cache"
    summary = describe(load_dataset("cub", cub_root), DescribeRequest("attributes"), cache)
    events = tmp_path / "events.jsonl"
    backbone = ["--model", "fewshot-tiny", "--pretrained", "", "--device", "cpu", "--cache", str(cache)]
    out = run_cli(
        "--events", str(events), "judge-descriptions", "--dataset", "cub", "--root", str(cub_root), *backbone, "--descriptions", summary.store
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["descriptions"] == summary.descriptions == len(report["records"])
    assert report["flagged"] == sum(r["flagged"] for r in report["records"])
    first = report["records"][0]
    assert {"class", "text", "cos_raw", "cos_translated", "rank", "nearest_other", "flagged"} <= set(first)
    assert 1 <= first["rank"] <= 3 and first["nearest_other"] != first["class"]
    kinds = [json.loads(line)["event"] for line in events.read_text().splitlines()]
    assert kinds[0] == "start" and kinds[-2:] == ["result", "end"]


def test_events_log_a_user_error_and_its_exit_code(tmp_path):
    events = tmp_path / "events.jsonl"
    out = run_cli("--events", str(events), "judge-descriptions", "--dataset", "cub", "--root", str(tmp_path), "--descriptions", str(tmp_path))
    assert out.returncode == 2
    logged = [json.loads(line) for line in events.read_text().splitlines()]
    assert logged[-2]["event"] == "error" and "not a stored description set" in logged[-2]["message"]
    assert logged[-1] == logged[-1] | {"event": "end", "exit_code": 2}


@pytest.mark.parametrize(
    "extra, precision",
    [
        ([], "fp32"),
        (["--model", "fewshot-demo", "--pretrained", "x.safetensors"], "fp32"),
        (["--precision", "bf16"], "bf16"),
        (["--model", "RN50"], "auto"),
    ],
)
def test_auto_precision_is_fp32_for_the_demo_clip_only(extra, precision):
    """The demo's figures do not depend on whether the CPU has bf16; an explicit precision still applies."""
    from fewshot_core.cli import build_parser, spec_from_args

    spec = spec_from_args(build_parser().parse_args(["reproduce", "--dataset", "demo", *extra]))
    assert spec.backbone.precision == precision


def test_reproduce_stability_seed_reruns_with_another_adapter_batch_seed(cub_root, tmp_path, capsys):
    """--stability-seed N: the same sweep with adapter batch seed N beside the first; the JSON says whether every mark stayed."""
    desc = {
        "Black-footed Albatross": ["dark plumage", "long wings"],
        "laysan albatross": ["white head", "pink bill"],
        "003.Sooty_Albatross": ["sooty"],
    }
    args = _tiny_cub_reproduce(cub_root, tmp_path, desc)
    args += ["--shots", "1", "--texts", "0", "1", "--seeds", "3", "--methods", "adapter", "--translations", "raw", "--cache", str(tmp_path / "c")]
    assert main([*args, "--run-dir", str(tmp_path / "run"), "--stability-seed", "7", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    stability = json.loads(out[-1])["stability"]
    assert stability["adapter_seeds"] == [0, 7] and isinstance(stability["stable"], bool)
    assert stability["stable"] == (stability["changed"] == []) and any(line.startswith("stability (adapter batch seed 0 vs 7): ") for line in out)
    other = json.loads((tmp_path / "run-batch-seed-7" / "config.json").read_text())
    assert other["sweep"]["adapter"]["seed"] == 7 and stability["run_dir"] == str(tmp_path / "run-batch-seed-7")


def test_k_shot_validation_and_the_adapter_head_are_flags_and_spec_settings(tmp_path, capsys):
    """--val-per-class k (as many validation images as shots) and --adapter-init reach the sweep, its spec.json and its label budget."""
    args = [
        "reproduce",
        "--dataset",
        "synthetic",
        "--shots",
        "2",
        "--seeds",
        "1",
        "--texts",
        "0",
        "--methods",
        "adapter",
        "--cache",
        str(tmp_path / "c"),
    ]
    assert main([*args, "--val-per-class", "k", "--adapter-init", "zeroshot", "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "label budget: k support + k validation labels per class (2 shots: 4 labels per class)" in out and "(zeroshot head)" in out
    spec = json.loads((tmp_path / "run" / "spec.json").read_text())
    assert spec["sweep"]["val_per_class"] == "k" and spec["sweep"]["adapter"]["init"] == "zeroshot"
    assert main(["reproduce", "--config", str(tmp_path / "run" / "spec.json")]) == 0  # the spec reads back: the same run, resumed
    assert "run folder: " + str(tmp_path / "run") in capsys.readouterr().out
    assert main([*args, "--val-per-class", "kk"]) == 2 and capsys.readouterr().err.count("error:") == 1
