"""Commands on class descriptions: describe (generate into the store) and judge-descriptions (CLIP's view)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from ..errors import FewShotError
from ..jobspec import DescribeSpec, JudgeSpec
from .io import emit, print_json, tqdm_progress
from .resources import cache_root


def pick_classes(spec: str | None, dataset) -> list[int] | None:
    """``--classes``: a count (the first N) or comma-separated class names."""
    from ..descriptions import normalise

    if spec is None:
        return None
    if spec.strip().isdigit():
        if int(spec) < 1:
            raise FewShotError(f"--classes {spec} picks no class; give a number of at least 1 (the first N classes) or class names.")
        return list(range(min(int(spec), dataset.num_classes)))
    names = [name.strip() for name in spec.split(",")]
    if not all(names):
        raise FewShotError(f"--classes {spec!r} has an empty class name (two commas in a row, or one at an end); separate names with single commas.")
    forms = {normalise(n): c for names in (dataset.class_names, dataset.display_names) for c, n in enumerate(names)}
    picked = [forms.get(normalise(name)) for name in names]
    missing = [name for name, c in zip(names, picked) if c is None]
    if missing:
        raise FewShotError(f"Unknown classes: {', '.join(missing)}. Use names as verify-dataset lists them, or a number.")
    return picked


def cmd_describe(spec: DescribeSpec) -> None:
    from ..datasets import load_dataset
    from ..descriptions.generate import describe

    dataset = load_dataset(spec.dataset.name, spec.dataset.root, spec.dataset.split_file)
    summary = describe(dataset, spec.request, cache_root(spec), pick_classes(spec.classes, dataset), on_progress=tqdm_progress("classes"))
    emit("result", **asdict(summary))
    print(json.dumps(asdict(summary)))


def cmd_judge_descriptions(spec: JudgeSpec) -> None:
    from ..backbone import load_backbone
    from ..datasets import load_dataset
    from ..descriptions.store import DescriptionSet
    from ..judge import judge_set_report

    if not (Path(spec.descriptions) / "meta.json").is_file():
        raise FewShotError(f"{spec.descriptions} is not a stored description set (a folder with meta.json under <cache>/descriptions/).")
    dataset = load_dataset(spec.dataset.name, spec.dataset.root, spec.dataset.split_file)
    report = judge_set_report(
        dataset, DescriptionSet(Path(spec.descriptions)), load_backbone(spec.backbone), cache_root(spec), tqdm_progress("train")
    )
    records = report["records"]
    summary = {"descriptions": len(records), "flagged": sum(r["flagged"] for r in records), "judged_with": report["judged_with"]}
    emit("result", **summary, records=records)
    print_json({**summary, "records": records})
