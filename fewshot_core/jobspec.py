"""One job spec per command: every setting of a run, as one JSON file.

The app writes a spec into a job folder and starts ``python -m fewshot_core --events E <command> --config F``
(``command_line``: the one place an argument list is made); the CLI reads the same file, flags given on its
command line overriding it; a sweep's run folder keeps the spec that made it (``spec.json``), so
``reproduce --config <run>/spec.json`` resumes that run. A spec holds the command's config dataclasses
(``SweepConfig``, ``BackboneConfig``, ``DescribeRequest``), whose defaults are the only ones, plus the dataset,
the executor and the paths. ``validate()`` is the one check of a spec; ``describe()`` says it in words.

Credentials never reach a spec file: ``split_secrets`` cleans every text (``redact.redact_text``) and returns
the originals, which travel in the job's environment (``SECRETS_ENV``) and are put back by ``spec_from_file``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from . import spec_words as words
from .config import BackboneConfig, SweepConfig
from .descriptions.generate import DescribeRequest
from .descriptions.sources import GenerationSettings
from .errors import FewShotError
from .redact import redact_text
from .spec_codec import decode

SPEC_FILE = "spec.json"  # the spec's name in a run folder and in a job folder
SECRETS_ENV = "FEWSHOT_SPEC_SECRETS"  # the texts split_secrets took out of a job's spec, for its process only


@dataclass
class DatasetSpec:
    """Which dataset, and where it is."""

    name: str = ""  # a name from datasets.list_datasets() (reproduce: also "synthetic"); "" = not chosen
    root: str | None = None  # the dataset folder or its parent (demo: generated under the cache when unset)
    split_file: str | None = None  # CoOp-format JSON {train, val, test} replacing the splits and the validation draw


@dataclass
class ExecutorSpec:
    """Where the work runs."""

    name: str = "local"  # local (this process) | ray (units as Ray tasks, extraction through Ray Data)
    address: str | None = None  # with ray: the cluster to join (ray://head:10001, head:6379, auto); None = a local instance


class JobSpec:
    """What every command's spec can do; subclasses are dataclasses with a ``command`` name."""

    command: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, **asdict(self)}  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, where: str = "the spec") -> JobSpec:
        """The spec in ``text`` (a subclass checks that the command is its own).

        Raises:
            FewShotError: not JSON, not an object, an unknown command, key or value type.
        """
        try:
            data = json.loads(text)
        except ValueError as e:
            raise FewShotError(f"{where} is not JSON ({e}); write the spec as a JSON object, or give the settings as flags.") from None
        return spec_from_dict(data, where, None if cls is JobSpec else cls.command)

    def validate(self) -> None:
        """Raise FewShotError on settings this command cannot run with (checked before any work)."""

    def describe(self) -> str:
        """The spec in plain words, for the app (never JSON)."""
        raise NotImplementedError


@dataclass
class DownloadSpec(JobSpec):
    """``download``: an official dataset archive, downloaded and extracted."""

    command: ClassVar[str] = "download"
    dataset: DatasetSpec = field(default_factory=DatasetSpec)  # its name, and root: the folder to put it in

    def validate(self) -> None:
        _need(self.dataset.name, "--dataset", "the dataset to download")
        _need(self.dataset.root, "--root", "the folder to put it in")

    def describe(self) -> str:
        return f"download the {self.dataset.name} archives into {self.dataset.root}"


@dataclass
class VerifySpec(JobSpec):
    """``verify-dataset``: a dataset folder checked, as a JSON report."""

    command: ClassVar[str] = "verify-dataset"
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    quick: bool = False  # do not decode every image

    def validate(self) -> None:
        _need(self.dataset.name, "--dataset", "the dataset to check")

    def describe(self) -> str:
        return f"check {words.dataset_words(self.dataset)}" + (" (without decoding the images)" if self.quick else "")


@dataclass
class FeaturesSpec(JobSpec):
    """``features``: a dataset's images encoded with CLIP into the feature cache."""

    command: ClassVar[str] = "features"
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    backbone: BackboneConfig | None = None  # None: the dataset's CLIP (resolve_backbone)
    cache: str | None = None  # the cache root; None: $FEWSHOT_CACHE or the per-user default
    splits: list[str] | None = None  # None: every split the dataset has (train, test, and val if any)
    batch_size: int = 64  # images per encoder call
    workers: int | None = None  # image decoding workers; None: on a GPU cores - 1 (max 16), on a CPU 0 below 8 cores, else cores / 8 (max 4)
    export: str | None = None  # also write <split>.npz and provenance.json into this folder
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)

    def validate(self) -> None:
        _need(self.dataset.name, "--dataset", "the dataset to encode")

    def describe(self) -> str:
        return words.features_words(self)


@dataclass
class DescribeSpec(JobSpec):
    """``describe``: class descriptions generated into the store (resumable)."""

    command: ClassVar[str] = "describe"
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    request: DescribeRequest = field(default_factory=DescribeRequest)  # settings None: describe_settings(source)
    classes: str | None = None  # a number (the first N classes) or comma-separated class names; None: every class
    cache: str | None = None

    def validate(self) -> None:
        _need(self.dataset.name, "--dataset", "the dataset to describe")
        self.request.validate()

    def describe(self) -> str:
        return words.describe_words(self)


@dataclass
class ImportSpec(JobSpec):
    """``import-descriptions``: a ``{"class name": ["sentence", ...]}`` file into the store."""

    command: ClassVar[str] = "import-descriptions"
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    file: str | None = None  # the JSON file to import
    cache: str | None = None

    def validate(self) -> None:
        _need(self.dataset.name, "--dataset", "the dataset the descriptions are of")
        _need(self.file, "--file", "the JSON file to import")

    def describe(self) -> str:
        return f"import {self.file} as descriptions of {words.dataset_words(self.dataset)}"


@dataclass
class JudgeSpec(JobSpec):
    """``judge-descriptions``: each stored description scored against its class's images with CLIP."""

    command: ClassVar[str] = "judge-descriptions"
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    backbone: BackboneConfig | None = None
    cache: str | None = None
    descriptions: str | None = None  # a stored description set's folder (<cache>/descriptions/<dataset>/<key>)

    def validate(self) -> None:
        _need(self.dataset.name, "--dataset", "the dataset the descriptions are of")
        _need(self.descriptions, "--descriptions", "the description set folder to judge")

    def describe(self) -> str:
        return f"judge the description set {Path(self.descriptions or '?').name} of {self.dataset.name} with {words.clip_words(self.backbone)}"


@dataclass
class ReportSpec(JobSpec):
    """``report``: a run's figures and tables written into a folder."""

    command: ClassVar[str] = "report"
    run_dir: str | None = None  # a run folder (the 'run folder:' line of reproduce)
    out: str | None = None  # the folder to write the files into (created if needed)
    images: bool = True  # also figure4.png, figure4.svg and gains.png (they need Chrome or Chromium)

    def validate(self) -> None:
        _need(self.run_dir, "RUN_DIR", "the run folder to report on")
        _need(self.out, "--out", "the folder to write the report into")

    def describe(self) -> str:
        return f"write the report of the run {self.run_dir} into {self.out}" + ("" if self.images else " (no PNG or SVG figures)")


@dataclass
class EstimateSpec(JobSpec):
    """``estimate``: one unit of a sweep timed here on synthetic features of the data's size, scaled to the grid."""

    command: ClassVar[str] = "estimate"
    sweep: SweepConfig = field(default_factory=SweepConfig)
    classes: int = 200  # classes of the dataset (CUB)
    images_per_class: int = 30  # training images per class (CUB)
    texts_per_class: int = 30  # descriptions per class

    def validate(self) -> None:
        self.sweep.validate()
        for what, value in (("classes", self.classes), ("images per class", self.images_per_class), ("texts per class", self.texts_per_class)):
            if value < 1:
                raise FewShotError(f"The estimate needs at least 1 in {what} (got {value}).")

    def describe(self) -> str:
        return words.estimate_words(self)


@dataclass
class ReproduceSpec(JobSpec):
    """``reproduce``: features, Q-Formers, the sweep and Table 1, into a resumable run folder."""

    command: ClassVar[str] = "reproduce"
    dataset: DatasetSpec = field(default_factory=DatasetSpec)  # also "synthetic": features only, no folder
    backbone: BackboneConfig | None = None
    cache: str | None = None
    descriptions: str | None = None  # a {"class name": [...]} JSON file or a stored description set folder
    sweep: SweepConfig = field(default_factory=SweepConfig)
    run_dir: str | None = None  # where results go; None: <cache>/runs/<dataset>-<key of features and settings>
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)
    stability_seed: int | None = None  # also run the sweep with this adapter batch seed: do the marks stay?
    json_summary: bool = False  # also print Table 1 as one JSON object, the last line of stdout

    def validate(self) -> None:
        _need(self.dataset.name, "--dataset", "the dataset to train on (or synthetic)")
        self.sweep.validate()

    def describe(self) -> str:
        return words.sweep_words(self)


SPECS: dict[str, type[JobSpec]] = {
    cls.command: cls for cls in (DownloadSpec, VerifySpec, FeaturesSpec, DescribeSpec, ImportSpec, JudgeSpec, ReportSpec, EstimateSpec, ReproduceSpec)
}


def spec_from_dict(data: Any, where: str = "the spec", command: str | None = None) -> JobSpec:
    """The spec a parsed JSON object holds; ``command``: the command it must be for (its ``command`` key may
    then be left out).

    Raises:
        FewShotError: not an object, an unknown or other command, an unknown key or a value of the wrong type.
    """
    if not isinstance(data, dict):
        raise FewShotError(f'{where} must be a JSON object with a "command" and its settings.')
    data = dict(data)
    named = data.pop("command", command)
    if named not in SPECS:
        raise FewShotError(f"{where} names the command {named!r}, which does not exist; use one of {', '.join(SPECS)}.")
    if command is not None and named != command:
        raise FewShotError(f"{where} is a spec for {named}, not {command}; run `python -m fewshot_core {named} --config ...` instead.")
    return decode(SPECS[named], data, where)


def spec_from_file(path: Path | str, command: str | None = None, environ: dict[str, str] | None = None) -> JobSpec:
    """The spec in a file (``--config``), with the texts ``split_secrets`` took out put back from ``environ``.

    Raises:
        FewShotError: a missing or unreadable file, or one ``spec_from_dict`` refuses.
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FewShotError(f"The spec file {path} cannot be read ({getattr(e, 'strerror', None) or e}); give a JSON spec file.") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise FewShotError(f"The spec file {path} is not JSON ({e}); fix it, or give the settings as flags.") from None
    if isinstance(data, dict):
        restore_secrets(data, (environ if environ is not None else {}).get(SECRETS_ENV))
    return spec_from_dict(data, f"The spec file {path}", command)


def save_spec(spec: JobSpec, path: Path | str) -> None:
    """Write a spec file atomically (its texts must already be fit to store: see ``split_secrets``)."""
    from .storage import write_json

    write_json(Path(path), spec.to_dict())


def command_line(spec: JobSpec, spec_path: Path | str, events_path: Path | str) -> list[str]:
    """The process that runs a saved spec: ``python -m fewshot_core --events E <command> --config F``."""
    return [sys.executable, "-m", "fewshot_core", "--events", str(events_path), spec.command, "--config", str(spec_path)]


def split_secrets(spec: JobSpec) -> tuple[JobSpec, dict[str, str]]:
    """The spec fit to store (credentials in any text removed, ``redact.redact_text``) and, when that changed
    something, the environment that carries the originals to the job's process (``SECRETS_ENV``)."""
    hidden: list[tuple[list[str | int], str]] = []

    def clean(value: Any, path: list[str | int]) -> Any:
        if isinstance(value, str):
            safe = redact_text(value)
            if safe != value:
                hidden.append((path, value))
            return safe
        if isinstance(value, dict):
            return {k: clean(v, [*path, k]) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v, [*path, i]) for i, v in enumerate(value)]
        return value

    public = spec_from_dict(clean(spec.to_dict(), []))
    return public, ({SECRETS_ENV: json.dumps(hidden)} if hidden else {})


def restore_secrets(data: dict[str, Any], carried: str | None) -> None:
    """Put back into a spec's JSON the originals ``split_secrets`` carried, each only where the stored text is
    exactly its cleaned form (a stale variable in a shell changes nothing)."""
    try:
        pairs = json.loads(carried) if carried else []
    except ValueError:
        return
    for entry in pairs if isinstance(pairs, list) else []:
        try:
            path, value = entry
            *parents, last = path
            holder = data
            for key in parents:
                holder = holder[key]
            if holder[last] == redact_text(value):
                holder[last] = value
        except (KeyError, IndexError, TypeError, ValueError):
            continue


def resolve_backbone(
    dataset: str,
    model: str | None = None,
    pretrained: str | None = None,
    quick_gelu: bool | None = None,
    device: str | None = None,
    precision: str | None = None,
) -> BackboneConfig:
    """The CLIP for a dataset from what was given: neither model nor weights on a dataset with its own CLIP (the
    demo, ``DatasetInfo.own_clip``) is that CLIP; otherwise unset ones are ``BackboneConfig``'s. ``auto`` precision
    is fp32 for the demo CLIP (``demo.dataset.CLIP_PRECISION``), so the demo's figures do not depend on the CPU's bf16."""
    from .datasets import dataset_info, list_datasets
    from .demo import dataset as demo

    default = BackboneConfig()
    device, precision = device or default.device, precision or default.precision
    own_clip = dataset_info(dataset).own_clip if dataset in list_datasets() else None
    if model is None and pretrained is None and own_clip is not None:
        cfg = own_clip(device)
        return cfg if precision == default.precision else replace(cfg, precision=precision)
    model = model or default.model
    pretrained = default.pretrained if pretrained is None else pretrained
    if (model, precision) == (demo.CLIP_MODEL, default.precision):
        precision = demo.CLIP_PRECISION
    return BackboneConfig(model, pretrained, quick_gelu, device, precision)


def describe_settings(source: str, **given: Any) -> GenerationSettings:
    """Sampling settings for a description source: ``given`` ones, else the defaults, the model being the source's
    own default (its registry entry: the embedded one for local)."""
    from .descriptions.registry import SOURCE_REGISTRY

    model = SOURCE_REGISTRY[source].default_model if source in SOURCE_REGISTRY else GenerationSettings().model
    return GenerationSettings(**{"model": model, **given})


def _need(value: Any, flag: str, what: str) -> None:
    if value is None or value == "":
        raise FewShotError(f"No {flag} given: the spec needs {what} (a flag, or its setting in the --config file).")
