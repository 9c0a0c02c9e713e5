"""Job specs: JSON round trips, --config with flags as overrides, one-line errors for bad spec files, a run
folder that keeps its spec and resumes from it, specs in plain words, credentials kept out of spec files."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from fewshot_core.cli import build_parser, main, spec_from_args
from fewshot_core.config import AdapterConfig, BackboneConfig, QFormerTrainConfig, SweepConfig
from fewshot_core.descriptions.generate import DescribeRequest
from fewshot_core.descriptions.sources import GenerationSettings
from fewshot_core.jobspec import (
    SECRETS_ENV,
    SPECS,
    DatasetSpec,
    DescribeSpec,
    DownloadSpec,
    EstimateSpec,
    ExecutorSpec,
    FeaturesSpec,
    ImportSpec,
    JobSpec,
    JudgeSpec,
    ReportSpec,
    ReproduceSpec,
    VerifySpec,
    command_line,
    spec_from_file,
    split_secrets,
)

ROOT = Path(__file__).resolve().parents[1]
CLIP = BackboneConfig("fewshot-tiny", "", False, "cpu", "fp32")
CUB = DatasetSpec("cub", "/data/CUB_200_2011", "/data/split.json")
SWEEP = SweepConfig(
    shots=[1, 4],
    text_counts=[0, 5],
    seeds=[0, 1, 2],
    protocol="train-split",
    val_per_class="k",
    qformer_train=QFormerTrainConfig(loss="infonce", epochs=3),
    adapter=AdapterConfig(lr=0.002, epochs=1.5),
)
EXAMPLES = [  # one spec per command, every setting away from its default
    DownloadSpec(DatasetSpec("pets", "/data/pets")),
    VerifySpec(CUB, quick=True),
    FeaturesSpec(CUB, CLIP, "/cache", ["test"], 8, 0, "/out", ExecutorSpec("ray", "auto")),
    DescribeSpec(CUB, DescribeRequest("openai-compatible", "Describe {class_name}.", GenerationSettings("m", 0.2, 50, 2), "http://h/v1"), "2", "/c"),
    ImportSpec(CUB, "/d.json", "/c"),
    JudgeSpec(CUB, CLIP, "/c", "/c/descriptions/cub/k"),
    ReportSpec("/c/runs/r", "/out", images=False),
    EstimateSpec(SWEEP, 20, 5, 3),
    ReproduceSpec(CUB, CLIP, "/c", "/d.json", SWEEP, "/run", ExecutorSpec("ray"), 7, True),
]


def test_every_command_has_a_spec_and_each_round_trips_through_json():
    assert sorted(type(s).command for s in EXAMPLES) == sorted(SPECS)
    for spec in EXAMPLES:
        text = spec.to_json()
        assert json.loads(text)["command"] == spec.command
        assert type(spec).from_json(text) == spec and JobSpec.from_json(text) == spec  # by its class, or by the command it names
        default = type(spec)()
        assert JobSpec.from_json(default.to_json()) == default


def test_a_spec_written_by_hand_means_what_the_app_writes():
    """Missing settings are the dataclasses' defaults; a whole number for a float setting is that float, so the
    run (and its key) is the same as the app's."""
    written = '{"command": "estimate", "sweep": {"adapter": {"lr": 1, "weight_decay": 10}}}'
    spec = JobSpec.from_json(written)
    assert spec == EstimateSpec(SweepConfig(adapter=AdapterConfig(lr=1.0)))
    assert isinstance(spec.sweep.adapter.lr, float) and isinstance(spec.sweep.adapter.weight_decay, float)


def _parsed(*argv: str) -> JobSpec:
    return spec_from_args(build_parser().parse_args(list(argv)))


def test_config_with_an_override_flag_gives_the_spec_with_the_override(tmp_path):
    spec = ReproduceSpec(DatasetSpec("synthetic"), CLIP, str(tmp_path / "c"), None, SWEEP, str(tmp_path / "run"), stability_seed=3)
    (tmp_path / "s.json").write_text(spec.to_json())
    got = _parsed("reproduce", "--config", str(tmp_path / "s.json"), "--shots", "2", "--adapter-lr", "0.5", "--device", "cuda")
    assert got.sweep.shots == [2] and got.sweep.adapter.lr == 0.5
    assert got.backbone.device == "cuda" and got.sweep.device == "cuda"  # --device sets both, as it always has
    assert got.sweep.adapter.epochs == 1.5 and got.sweep.text_counts == [0, 5] and got.stability_seed == 3  # the rest: the file's
    assert got.backbone.model == "fewshot-tiny" and got.run_dir == str(tmp_path / "run")


def test_flags_alone_give_the_defaults_of_the_dataclasses_and_the_clip_rules():
    got = _parsed("reproduce", "--dataset", "synthetic", "--seeds", "3", "--texts", "0", "1")
    assert got.sweep == SweepConfig(text_counts=[0, 1], seeds=[0, 1, 2])
    assert got.backbone == BackboneConfig() and got.executor == ExecutorSpec() and not got.json_summary
    assert _parsed("features", "--dataset", "cub", "--model", "RN50").backbone == BackboneConfig("RN50", "openai")
    describe = _parsed("describe", "--dataset", "cub", "--source", "local", "--samples", "3").request
    assert describe.settings == GenerationSettings("smollm2", samples=3) and describe.batch_size == DescribeRequest().batch_size
    openai = _parsed("describe", "--dataset", "cub", "--source", "openai").request.settings
    assert openai == GenerationSettings("gpt-3.5-turbo")  # each source's own default model (its registry entry), named in the spec


def test_help_shows_the_dataclass_defaults(capsys):
    assert main(["estimate", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"default {' '.join(map(str, SweepConfig().shots))}" in out and f"default {AdapterConfig().steps}" in out
    assert f"default {EstimateSpec().classes}, CUB" in out


BAD_SPECS = [
    ("not-json", "{'command': 'estimate'}", "is not JSON"),
    ("not-an-object", "[1, 2]", "must be a JSON object"),
    ("unknown-key", '{"command": "estimate", "shotz": [1]}', "has no setting 'shotz'"),
    ("unknown-nested-key", '{"command": "estimate", "sweep": {"adapter": {"rate": 1}}}', "sweep.adapter has no setting 'rate'"),
    ("wrong-type", '{"command": "estimate", "sweep": {"shots": [1, "two"]}}', "the setting sweep.shots[1] must be a whole number"),
    ("bool-for-a-number", '{"command": "estimate", "classes": true}', "the setting classes must be a whole number"),
    ("unknown-command", '{"command": "train-everything"}', "names the command 'train-everything', which does not exist"),
    ("other-command", '{"command": "features"}', "is a spec for features, not estimate"),
    ("bad-value", '{"command": "estimate", "sweep": {"seeds": []}}', "at least one seed is needed"),
]


@pytest.mark.parametrize(("text", "fragment"), [c[1:] for c in BAD_SPECS], ids=[c[0] for c in BAD_SPECS])
def test_a_bad_spec_file_is_exit_2_and_one_error_line(tmp_path, capsys, text, fragment):
    (tmp_path / "s.json").write_text(text)
    assert main(["estimate", "--config", str(tmp_path / "s.json")]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("error: ") and fragment in err and "Traceback" not in err and out == ""


def test_a_missing_spec_file_or_setting_is_one_line(tmp_path, capsys):
    assert main(["reproduce", "--config", str(tmp_path / "nowhere.json")]) == 2
    assert capsys.readouterr().err.startswith(f"error: The spec file {tmp_path / 'nowhere.json'} cannot be read")
    (tmp_path / "s.json").write_text('{"command": "reproduce"}')
    assert main(["reproduce", "--config", str(tmp_path / "s.json")]) == 2
    assert capsys.readouterr().err.count("\n") == 1  # no dataset in the file, none as a flag


def test_a_run_folder_keeps_its_spec_and_resumes_from_it_without_recomputing(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    args = ["reproduce", "--dataset", "synthetic", "--methods", "zeroshot", "adapter", "--translations", "raw"]
    args += ["--shots", "1", "2", "--texts", "0", "1", "--seeds", "1", "--cache", str(tmp_path / "c"), "--run-dir", str(run), "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    kept = JobSpec.from_json((run / "spec.json").read_text())
    assert kept == _parsed(*args)
    stamps = {p.name: p.stat().st_mtime_ns for p in (run / "units").iterdir()}
    assert len([n for n in stamps if n.endswith(".json")]) == 3  # zero-shot and two units
    monkeypatch.chdir(tmp_path)  # anywhere: the kept spec names its folders in full
    assert main(["reproduce", "--config", str(run / "spec.json")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    again = json.loads(lines[-1])
    assert f"run folder: {run}" in lines and not (tmp_path / "c" / "runs").exists()  # the same folder, not a new one
    assert again == first and {p.name: p.stat().st_mtime_ns for p in (run / "units").iterdir()} == stamps  # no unit recomputed


def test_a_kept_spec_names_its_paths_in_full(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["reproduce", "--dataset", "synthetic", "--methods", "zeroshot", "--shots", "1", "--texts", "0", "--seeds", "1"]
    assert main([*args, "--cache", "c", "--run-dir", "runs/r"]) == 0
    kept = JobSpec.from_json((tmp_path / "runs" / "r" / "spec.json").read_text())
    assert kept.run_dir == str(tmp_path / "runs" / "r") and kept.cache == str(tmp_path / "c")


def test_describe_is_plain_words():
    for spec in EXAMPLES:
        words = spec.describe()
        assert words and not re.search(r"[{}\[\]\"]|--|None|True|False", words.replace("{class_name}", "")), words
    assert EXAMPLES[-1].describe().startswith("cub at /data/CUB_200_2011, splits from /data/split.json · shots 1, 4 · texts 0, 5 · 3 seeds")
    assert "also changed: val per class k (default 4)" in EXAMPLES[-1].describe()
    assert "first 2" in EXAMPLES[3].describe() and "model m, temperature 0.2" in EXAMPLES[3].describe()


def test_credentials_never_reach_a_spec_file_and_come_back_only_from_the_environment(tmp_path):
    url = "http://alice:sk-userinfo-secret@127.0.0.1:9/v1?api_key=sk-query-secret&v=1"
    spec = DescribeSpec(CUB, DescribeRequest("openai-compatible", base_url=url))
    public, env = split_secrets(spec)
    assert "secret" not in public.to_json() and public.request.base_url == "http://127.0.0.1:9/v1?api_key=REDACTED&v=1"
    assert set(env) == {SECRETS_ENV} and split_secrets(EXAMPLES[0]) == (EXAMPLES[0], {})
    (tmp_path / "s.json").write_text(public.to_json())
    assert spec_from_file(tmp_path / "s.json", "describe", env) == spec  # the job's process gets the URL back
    assert spec_from_file(tmp_path / "s.json", "describe", {}) == public
    other = DescribeSpec(CUB, DescribeRequest("openai-compatible", base_url="http://127.0.0.1:9/v1?api_key=REDACTED&v=2"))
    (tmp_path / "o.json").write_text(other.to_json())
    assert spec_from_file(tmp_path / "o.json", "describe", env) == other  # a stale variable puts nothing into another spec


def test_the_command_line_runs_a_spec_file(tmp_path):
    line = command_line(EXAMPLES[7], tmp_path / "spec.json", tmp_path / "events.jsonl")
    assert line[1:] == ["-m", "fewshot_core", "--events", str(tmp_path / "events.jsonl"), "estimate", "--config", str(tmp_path / "spec.json")]


def _app_sources() -> list[Path]:
    return sorted([ROOT / "app.py", *(ROOT / "fewshot_app").rglob("*.py"), *(ROOT / "pages").glob("*.py")])


def test_no_page_or_app_module_builds_a_command_line():
    """The app writes specs: no ``"--flag"`` string and no ``argv`` in app.py, fewshot_app/ or pages/."""
    offenders = []
    for path in _app_sources():
        text = path.read_text()
        offenders += [f"{path.name}: argv" for _ in re.finditer("argv", text)]
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("--"):
                offenders.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert len(_app_sources()) >= 15 and offenders == []
