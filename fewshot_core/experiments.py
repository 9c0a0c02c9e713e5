"""Sweeps over shots x text counts x seeds x methods, resumable run folders, and Table 1.

A run folder holds ``config.json`` (every setting, the feature provenance, library versions),
``units/<shots>-<seed>.json`` (one file per finished unit of work, written atomically) and the tidy
``results.csv`` / ``results.jsonl`` rebuilt from them. Re-running a finished run does nothing; an
interrupted one resumes at the first missing unit.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .adapter import AdapterConfig, train_adapters
from .backbone import resolve_device
from .baselines import accuracy, description_class_embeddings, linear_probe, tip_adapter, zero_shot_predict
from .datasets.sampling import FewShotSplit, sample_few_shot, validation_indices
from .errors import FewShotError
from .features_bundle import FeatureBundle
from .progress import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress
from .qformer import QFormerConfig, QFormerTrainConfig, TextSide, alignment, load_qformer_config, train_qformer, translate
from .storage import atomic_path, content_key, read_json, write_json

METHODS = ("adapter", "zeroshot", "description-zeroshot", "linear-probe", "tip-adapter")
PROTOCOLS = ("train-split", "support")
RESULT_COLUMNS = ["dataset", "method", "protocol", "shots", "texts", "seed", "val_acc", "test_acc", "chosen"]


@dataclass
class SweepConfig:
    """One sweep: what to vary, how to select, and the settings of each part."""

    shots: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 10, 15])
    text_counts: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4, 5, 10, 20, 30])  # per class; 0 = image only
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    protocol: str = "train-split"  # which images train the Q-Former: "train-split" (paper) or "support" (k-shot only)
    val_per_class: int = 4  # validation images per class, drawn once from the training split
    qformer_size: str = "small"  # a name from qformer_configs/
    qformer_text_input: str = "pooled"  # "pooled" text embedding or CLIP's per-token "tokens" (bundle must have them)
    qformer_train: QFormerTrainConfig = field(default_factory=QFormerTrainConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    device: str = "auto"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepConfig:
        data = dict(data)
        data["qformer_train"] = QFormerTrainConfig(**data.get("qformer_train", {}))
        data["adapter"] = AdapterConfig(**data.get("adapter", {}))
        return cls(**data)

    def validate(self) -> None:
        """Raise FewShotError on settings that cannot run."""
        if self.protocol not in PROTOCOLS:
            raise FewShotError(f"Unknown protocol {self.protocol!r}; choose one of {', '.join(PROTOCOLS)}.")
        unknown = set(self.methods) - set(METHODS)
        if unknown:
            raise FewShotError(f"Unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}.")
        if self.qformer_text_input not in ("pooled", "tokens"):
            raise FewShotError(f"qformer_text_input must be 'pooled' or 'tokens', not {self.qformer_text_input!r}.")
        if not self.shots or min(self.shots) < 1 or not self.seeds or min(self.text_counts, default=0) < 0:
            raise FewShotError("Shots must be >= 1, text counts >= 0, and at least one seed is needed.")


def library_versions() -> dict[str, str]:
    """Versions that can change the numbers."""
    import open_clip
    import sklearn
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
        "transformers": transformers.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }


def bundle_fingerprint(bundle: FeatureBundle) -> str:
    """SHA-256 over every array the results depend on."""
    h = hashlib.sha256()
    for a in (
        bundle.train_features,
        bundle.train_labels,
        bundle.test_features,
        bundle.test_labels,
        bundle.class_text_features,
        bundle.description_features,
        bundle.description_labels,
    ):
        h.update(np.ascontiguousarray(a).tobytes())
    if bundle.val_indices is not None:  # a given validation list changes the results
        h.update(b"val" + np.ascontiguousarray(bundle.val_indices, np.int64).tobytes())
    return h.hexdigest()


class RunFolder:
    """A self-describing, resumable run folder."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.units = self.path / "units"

    def start(self, config: dict[str, Any]) -> None:
        """Write config.json, or check that an existing one describes the same run."""
        target = self.path / "config.json"
        if target.is_file():
            old = read_json(target)
            if old.get("key") != config["key"]:
                raise FewShotError(f"{self.path} holds a run with other settings or features; choose a new run folder (or delete it to start over).")
            return
        write_json(target, config)

    def done(self, unit: str) -> bool:
        return (self.units / f"{unit}.json").is_file()

    def save_unit(
        self, unit: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None, predictions: dict[str, np.ndarray] | None = None
    ) -> None:
        """Store a finished unit: its predictions first, then its rows (whose file marks it done)."""
        if predictions:
            with atomic_path(self.units / f"{unit}.npz") as tmp:
                with open(tmp, "wb") as f:
                    np.savez_compressed(f, **{k: v.astype(np.int16) for k, v in predictions.items()})
        write_json(self.units / f"{unit}.json", {"rows": rows, **(extra or {})})

    def save_test_index(self, bundle: FeatureBundle) -> None:
        """Test labels, class names and (when known) image paths, for per-class views."""
        if not (self.path / "test_index.json").is_file():
            write_json(
                self.path / "test_index.json", {"class_names": bundle.class_names, "labels": bundle.test_labels.tolist(), "paths": bundle.test_paths}
            )

    def predictions(self, unit: str) -> dict[str, np.ndarray]:
        """Test predictions of a unit by key ("adapter-<texts>", "linear-probe", ...); empty if none."""
        path = self.units / f"{unit}.npz"
        if not path.is_file():
            return {}
        with np.load(path) as data:
            return {k: data[k] for k in data.files}

    def results(self) -> pd.DataFrame:
        """All finished rows as a tidy table."""
        rows = [r for p in sorted(self.units.glob("*.json")) for r in read_json(p)["rows"]]
        return pd.DataFrame(rows, columns=RESULT_COLUMNS)

    def write_tables(self) -> pd.DataFrame:
        """Rebuild results.csv and results.jsonl from the unit files (atomically)."""
        df = self.results()
        with atomic_path(self.path / "results.csv") as tmp:
            df.to_csv(tmp, index=False)
        with atomic_path(self.path / "results.jsonl") as tmp:
            df.to_json(tmp, orient="records", lines=True)
        return df


def _row(
    bundle: FeatureBundle, cfg: SweepConfig, method: str, shots: int, texts: int, seed: int, val: float, test: float, chosen: dict | None = None
) -> dict[str, Any]:
    return {
        "dataset": bundle.dataset,
        "method": method,
        "protocol": cfg.protocol if method == "adapter" else "",
        "shots": shots,
        "texts": texts,
        "seed": seed,
        "val_acc": round(float(val), 6),
        "test_acc": round(float(test), 6),
        "chosen": json.dumps(chosen or {}, sort_keys=True),
    }


def select_descriptions(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Indices of ``count`` descriptions per class (fewer where a class has fewer), fixed by seed."""
    picks = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        picks.append(idx[np.random.default_rng([seed, 2, int(c)]).permutation(len(idx))][:count])
    return np.concatenate(picks) if picks else np.zeros(0, np.int64)


def run_sweep(
    bundle: FeatureBundle,
    cfg: SweepConfig,
    run_dir: Path | str,
    qformer_cache: Path | str | None = None,
    on_progress: ProgressFn = no_progress,
    should_cancel: CancelFn = never_cancel,
) -> pd.DataFrame:
    """Run (or resume) a sweep into ``run_dir`` and return its results table."""
    cfg.validate()
    device = resolve_device(cfg.device)
    run = RunFolder(run_dir)
    fingerprint = bundle_fingerprint(bundle)
    config = {
        "dataset": bundle.dataset,
        "sweep": asdict(cfg),
        "features": bundle.provenance,
        "features_sha256": fingerprint,
        "versions": library_versions(),
    }
    config["key"] = content_key({"sweep": config["sweep"], "features": fingerprint})
    run.start({**config, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    val_idx = validation_indices(bundle.train_labels, cfg.val_per_class, fixed_val=bundle.val_indices)
    units = [(k, s) for k in cfg.shots for s in cfg.seeds]
    translator = _Translator(bundle, cfg, device, qformer_cache, val_idx, should_cancel, on_progress)
    total = len(units) + 1
    run.save_test_index(bundle)
    if not run.done("zeroshot"):
        zs_pred = {"zeroshot": zero_shot_predict(bundle.test_features, bundle.class_text_features)} if "zeroshot" in cfg.methods else {}
        run.save_unit("zeroshot", _zero_shot_rows(bundle, cfg, val_idx), predictions=zs_pred)
    on_progress(1, total, "zero-shot done")
    for i, (shots, seed) in enumerate(units, 2):
        check_cancel(should_cancel, "The sweep")
        name = f"{shots:02d}-{seed}"
        if not run.done(name):
            split = sample_few_shot(bundle.train_labels, shots, seed, cfg.val_per_class, fixed_val=bundle.val_indices)
            start = time.perf_counter()
            rows, preds = _unit_rows(bundle, cfg, split, translator, device, should_cancel)
            run.save_unit(name, rows, {"seconds": round(time.perf_counter() - start, 3), "short_classes": split.short_classes}, preds)
            run.write_tables()
        on_progress(i, total, f"{shots}-shot seed {seed} done")
    return run.write_tables()


def _zero_shot_rows(bundle: FeatureBundle, cfg: SweepConfig, val_idx: np.ndarray) -> list[dict[str, Any]]:
    """Zero-shot CLIP (seed- and shot-free) and description zero-shot per (text count, seed)."""
    rows = []
    if "zeroshot" in cfg.methods:
        acc = lambda x, y: accuracy(zero_shot_predict(x, bundle.class_text_features), y)  # noqa: E731
        rows.append(
            _row(
                bundle,
                cfg,
                "zeroshot",
                0,
                0,
                0,
                acc(bundle.train_features[val_idx], bundle.train_labels[val_idx]),
                acc(bundle.test_features, bundle.test_labels),
            )
        )
    if "description-zeroshot" in cfg.methods:
        for m in (m for m in cfg.text_counts if m > 0):
            for seed in cfg.seeds:
                pick = select_descriptions(bundle.description_labels, m, seed)
                emb = description_class_embeddings(bundle.description_features, bundle.description_labels, bundle.num_classes, pick)
                acc = lambda x, y: accuracy(zero_shot_predict(x, emb), y)  # noqa: E731, B023
                rows.append(
                    _row(
                        bundle,
                        cfg,
                        "description-zeroshot",
                        0,
                        m,
                        seed,
                        acc(bundle.train_features[val_idx], bundle.train_labels[val_idx]),
                        acc(bundle.test_features, bundle.test_labels),
                    )
                )
    return rows


def _unit_rows(
    bundle: FeatureBundle, cfg: SweepConfig, split: FewShotSplit, translator: _Translator, device: torch.device, should_cancel: CancelFn
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Every method for one (shots, seed): result rows and test predictions."""
    x, y = bundle.train_features, bundle.train_labels
    sx, sy, vx, vy = x[split.support], y[split.support], x[split.val], y[split.val]
    rows, preds = [], {}
    if "adapter" in cfg.methods:
        pseudo = translator.pseudo_features(split) if max(cfg.text_counts) > 0 else None
        sets = []
        for m in cfg.text_counts:
            pick = select_descriptions(bundle.description_labels, m, split.seed) if m else np.zeros(0, np.int64)
            feats = sx if not m else np.concatenate([sx, pseudo[pick]])
            sets.append((feats, np.concatenate([sy, bundle.description_labels[pick]])))
        adapter_cfg = AdapterConfig(**{**asdict(cfg.adapter), "seed": cfg.adapter.seed + split.seed})
        heads = train_adapters(sets, bundle.num_classes, adapter_cfg, bundle.class_text_features, device, should_cancel)
        test_pred = heads.predict(bundle.test_features)  # (H, N_test)
        for m, va, pred in zip(cfg.text_counts, heads.accuracy(vx, vy), test_pred):
            rows.append(_row(bundle, cfg, "adapter", split.shots, m, split.seed, va, accuracy(pred, bundle.test_labels)))
            preds[f"adapter-{m}"] = pred
    if "linear-probe" in cfg.methods:
        lp = linear_probe(sx, sy, vx, vy, bundle.test_features)
        rows.append(_row(bundle, cfg, "linear-probe", split.shots, 0, split.seed, lp.val_acc, accuracy(lp.test_pred, bundle.test_labels), lp.chosen))
        preds["linear-probe"] = lp.test_pred
    if "tip-adapter" in cfg.methods:
        tip = tip_adapter(sx, sy, bundle.class_text_features, vx, vy, bundle.test_features)
        rows.append(
            _row(bundle, cfg, "tip-adapter", split.shots, 0, split.seed, tip.val_acc, accuracy(tip.test_pred, bundle.test_labels), tip.chosen)
        )
        preds["tip-adapter"] = tip.test_pred
    return rows, preds


class _Translator:
    """Trains (or loads) the Q-Former a protocol calls for and translates every description once."""

    def __init__(
        self,
        bundle: FeatureBundle,
        cfg: SweepConfig,
        device: torch.device,
        cache: Path | str | None,
        val_idx: np.ndarray,
        should_cancel: CancelFn = never_cancel,
        on_progress: ProgressFn = no_progress,
    ):
        self.bundle, self.cfg, self.device, self.val_idx = bundle, cfg, device, val_idx
        self.should_cancel, self.on_progress = should_cancel, on_progress
        self.cache = Path(cache) if cache else None
        self.text = TextSide(bundle.description_features, bundle.description_labels, bundle.description_tokens, bundle.description_mask)
        self._shared: np.ndarray | None = None
        self.stats: list[dict[str, Any]] = []

    def pseudo_features(self, split: FewShotSplit) -> np.ndarray:
        """(M, D) translated descriptions for this split's protocol."""
        if self.cfg.protocol == "train-split":
            if self._shared is None:
                train_idx = np.setdiff1d(np.arange(len(self.bundle.train_labels)), self.val_idx)  # never the validation images
                self._shared = self._train_and_translate(train_idx)
            return self._shared
        return self._train_and_translate(split.support)

    def _train_and_translate(self, image_idx: np.ndarray) -> np.ndarray:
        arch = load_qformer_config(self.cfg.qformer_size, text_input=self.cfg.qformer_text_input)
        if arch.text_input == "tokens" and self.text.tokens is None:
            raise FewShotError("The tokens Q-Former input needs per-token description features; build the features with tokens.")
        key = content_key(
            {
                "bundle": bundle_fingerprint(self.bundle),
                "images": hashlib.sha256(np.sort(image_idx).tobytes()).hexdigest(),
                "arch": asdict(arch),
                "train": asdict(self.cfg.qformer_train),
            }
        )
        path = self.cache / "qformers" / f"{key}.safetensors" if self.cache else None
        model = _load_qformer(path, arch, self.bundle) if path else None
        if model is None:
            result = train_qformer(
                self.bundle.train_features[image_idx],
                self.bundle.train_labels[image_idx],
                self.text,
                arch,
                self.cfg.qformer_train,
                self.device,
                on_progress=self.on_progress,
                should_cancel=self.should_cancel,
            )
            model = result.model
            self.stats.append({"pairs_per_s": result.pairs_per_s, "seconds": result.seconds, "final_loss": result.losses[-1]})
            if path:
                _save_qformer(path, model, arch, self.cfg.qformer_train)
        return translate(model, self.text)


def _save_qformer(path: Path, model: torch.nn.Module, arch: QFormerConfig, train: QFormerTrainConfig) -> None:
    from safetensors.torch import save_file

    meta = {"arch": json.dumps(asdict(arch)), "train": json.dumps(asdict(train))}
    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp), metadata=meta)


def _load_qformer(path: Path, arch: QFormerConfig, bundle: FeatureBundle) -> torch.nn.Module | None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .qformer import TextToImageQFormer

    if not path.is_file():
        return None
    try:
        model = TextToImageQFormer(arch, bundle.description_features.shape[1], bundle.dim)
        model.load_state_dict(load_file(str(path)))
        return model.eval()
    except (SafetensorError, RuntimeError, OSError):
        path.unlink(missing_ok=True)  # damaged: retrain
        return None


def qformer_alignment_report(
    bundle: FeatureBundle, arch: QFormerConfig, train: QFormerTrainConfig, held_out_per_class: int = 5, device: str = "cpu"
) -> dict[str, Any]:
    """Train on the train split with some descriptions held out; report held-out alignment vs untrained."""
    from .qformer import TextToImageQFormer

    text = TextSide(bundle.description_features, bundle.description_labels, bundle.description_tokens, bundle.description_mask)
    rank = np.zeros(len(text.labels), int)
    for c in np.unique(text.labels):
        idx = np.flatnonzero(text.labels == c)
        rank[idx] = np.arange(len(idx))
    per_class = bundle.descriptions_per_class()[text.labels]
    held = rank >= per_class - held_out_per_class
    trained = train_qformer(bundle.train_features, bundle.train_labels, text.subset(np.flatnonzero(~held)), arch, train, device)
    torch.manual_seed(train.seed)
    untrained = TextToImageQFormer(arch, text.pooled.shape[1], bundle.dim)
    test_text = text.subset(np.flatnonzero(held))
    measure = lambda m: alignment(translate(m, test_text), test_text.labels, bundle.test_features, bundle.test_labels)  # noqa: E731
    return {"trained": measure(trained.model), "untrained": measure(untrained), "pairs_per_s": trained.pairs_per_s, "losses": trained.losses}


def _mean_std(values: pd.Series) -> tuple[float, float]:
    return float(values.mean() * 100), float(values.std(ddof=0) * 100) if len(values) > 1 else 0.0


def table1(results: pd.DataFrame) -> pd.DataFrame:
    """Table 1 from a results table: one row per shot count, accuracies in %.

    ``image_text_val`` picks the text count (> 0) with the best mean *validation* accuracy over seeds
    (the honest default); ``image_text_oracle`` the one with the best mean *test* accuracy, as the
    paper did. ``*_std`` is the standard deviation over seeds.
    """
    adapter = results[results.method == "adapter"]
    rows = []
    for shots in sorted(adapter.shots.unique()):
        at = adapter[adapter.shots == shots]
        row: dict[str, Any] = {"shots": int(shots), "seeds": int(at.seed.nunique())}
        row["image_only"], row["image_only_std"] = _mean_std(at[at.texts == 0].test_acc)
        with_text = at[at.texts > 0]
        if len(with_text):
            means = with_text.groupby("texts")[["val_acc", "test_acc"]].mean()
            for how, column in (("val", "val_acc"), ("oracle", "test_acc")):
                m = int(means[column].idxmax())
                row[f"image_text_{how}"], row[f"image_text_{how}_std"] = _mean_std(with_text[with_text.texts == m].test_acc)
                row[f"texts_{how}"] = m
        for method in ("linear-probe", "tip-adapter"):
            part = results[(results.method == method) & (results.shots == shots)]
            if len(part):
                row[method.replace("-", "_")], row[method.replace("-", "_") + "_std"] = _mean_std(part.test_acc)
        rows.append(row)
    table = pd.DataFrame(rows)
    zs = results[results.method == "zeroshot"]
    if len(zs):
        table["zero_shot"] = float(zs.test_acc.iloc[0] * 100)
    dzs = results[results.method == "description-zeroshot"]
    if len(dzs):
        best = dzs.groupby("texts")[["val_acc", "test_acc"]].mean()
        m = int(best.val_acc.idxmax())
        table["description_zero_shot"], table["description_zero_shot_texts"] = float(best.test_acc[m] * 100), m
    return table


def format_table1(table: pd.DataFrame) -> str:
    """Table 1 as aligned text: "mean ± std", text counts in brackets as in the paper."""
    cell = lambda r, k: f"{r[k]:.2f} ± {r[k + '_std']:.2f}" if k in r and pd.notna(r[k]) else "-"  # noqa: E731
    lines = [f"{'shots':>5}  {'image only':>15}  {'image+text (val)':>22}  {'image+text (oracle)':>22}  {'linear probe':>15}  {'Tip-Adapter':>15}"]
    for _, r in table.iterrows():
        val = f"{cell(r, 'image_text_val')} ({int(r['texts_val'])})" if "texts_val" in r and pd.notna(r.get("texts_val")) else "-"
        orc = f"{cell(r, 'image_text_oracle')} ({int(r['texts_oracle'])})" if "texts_oracle" in r and pd.notna(r.get("texts_oracle")) else "-"
        lines.append(
            f"{int(r['shots']):>5}  {cell(r, 'image_only'):>15}  {val:>22}  {orc:>22}  {cell(r, 'linear_probe'):>15}  {cell(r, 'tip_adapter'):>15}"
        )
    if "zero_shot" in table:
        lines.append(f"zero-shot CLIP: {table.zero_shot.iloc[0]:.2f}")
    if "description_zero_shot" in table:
        lines.append(
            f"description zero-shot (CuPL-style, {int(table.description_zero_shot_texts.iloc[0])} texts/class, val-selected): {table.description_zero_shot.iloc[0]:.2f}"
        )
    return "\n".join(lines)


def text_helped(table: pd.DataFrame, max_shots: int = 4) -> dict[int, bool]:
    """Per shot count up to ``max_shots``: did validation-selected text beat image only on test?"""
    part = table[table.shots <= max_shots]
    return {int(r.shots): bool(r.image_text_val > r.image_only) for r in part.itertuples() if "image_text_val" in table}


def list_runs(cache_root: Path | str) -> list[dict[str, Any]]:
    """Every run folder under ``<cache>/runs``, newest first, with its config and result count."""
    runs = []
    for config_path in Path(cache_root, "runs").glob("*/config.json"):
        try:
            config = read_json(config_path)
        except (OSError, ValueError):
            continue  # a damaged folder is skipped, not fatal
        folder = RunFolder(config_path.parent)
        runs.append({"path": str(folder.path), "name": folder.path.name, "config": config, "units": len(list(folder.units.glob("*.json")))})
    return sorted(runs, key=lambda r: r["config"].get("created", ""), reverse=True)


def selected_predictions(run: RunFolder, results: pd.DataFrame, shots: int, setting: str) -> list[np.ndarray]:
    """Test predictions of every seed for one Table 1 cell.

    ``setting``: "image_only", "image_text_val" (text count chosen on validation), "linear-probe",
    "tip-adapter" or "zeroshot".
    """
    if setting == "zeroshot":
        return [p["zeroshot"] for p in [run.predictions("zeroshot")] if "zeroshot" in p]
    key = setting
    if setting in ("image_only", "image_text_val"):
        texts = 0
        if setting == "image_text_val":
            cells = results[(results.method == "adapter") & (results.shots == shots) & (results.texts > 0)]
            texts = int(cells.groupby("texts").val_acc.mean().idxmax())
        key = f"adapter-{texts}"
    seeds = sorted(results[results.shots == shots].seed.unique())
    preds = [run.predictions(f"{shots:02d}-{s}").get(key) for s in seeds]
    return [p for p in preds if p is not None]


def per_class_report(run_dir: Path | str, results: pd.DataFrame, shots: int, setting: str) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Per-class test accuracy (mean over seeds), the most frequent confusions, misclassified examples.

    Returns:
        per_class: columns class, accuracy (%), images; sorted worst first.
        confusions: columns true, predicted, count (summed over seeds), most frequent first.
        examples: up to 12 misclassified test images of the first seed: path, true, predicted.
    """
    run = RunFolder(run_dir)
    index = read_json(run.path / "test_index.json")
    names, labels = index["class_names"], np.asarray(index["labels"])
    preds = selected_predictions(run, results, shots, setting)
    if not preds:
        raise FewShotError("This run has no stored predictions for that setting (it predates them, or the method was not run).")
    correct = np.mean([p == labels for p in preds], axis=0)  # (N,) share of seeds right
    per_class = pd.DataFrame(
        {
            "class": names,
            "accuracy": [100 * correct[labels == c].mean() if (labels == c).any() else np.nan for c in range(len(names))],
            "images": np.bincount(labels, minlength=len(names)),
        }
    )
    wrong = np.concatenate([np.stack([labels[p != labels], p[p != labels]], 1) for p in preds])
    pairs, counts = np.unique(wrong, axis=0, return_counts=True) if len(wrong) else (np.zeros((0, 2), int), np.zeros(0, int))
    order = np.argsort(-counts)[:15]
    confusions = pd.DataFrame({"true": [names[t] for t, _ in pairs[order]], "predicted": [names[q] for _, q in pairs[order]], "count": counts[order]})
    paths = index.get("paths") or []
    first = preds[0]
    examples = [
        {"path": paths[i] if paths else None, "true": names[labels[i]], "predicted": names[first[i]]} for i in np.flatnonzero(first != labels)[:12]
    ]
    return per_class.sort_values("accuracy").reset_index(drop=True), confusions, examples
