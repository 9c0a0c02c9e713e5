"""The frozen CLIP backbone: open_clip loading, QuickGELU, device and precision choice."""

from __future__ import annotations

import copy
import logging
import os
import platform
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from .config import BackboneConfig  # noqa: F401 - re-exported (defined without torch, for job specs)
from .errors import FewShotError
from .feature_status import RANDOM_INIT_SEED, weights_identity  # noqa: F401 - re-exported

MODEL_CONFIG_DIR = Path(__file__).parent / "model_configs"
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class Backbone:
    """A loaded, frozen CLIP with everything needed to encode images and texts."""

    model: torch.nn.Module
    preprocess: Any  # torchvision transform: PIL image -> (3, H, W) tensor
    tokenizer: Any  # open_clip tokenizer: list[str] -> (B, context_length) int tensor
    device: torch.device
    precision: str  # resolved: fp32, bf16 or fp16
    config: BackboneConfig
    identity: dict[str, Any] = field(default_factory=dict)  # what features computed with it depend on
    image_precision: str | None = None  # what image encoding runs at once checked against fp32 (set on first use)
    _low_visual: torch.nn.Module | None = field(default=None, repr=False, compare=False)

    def autocast(self) -> AbstractContextManager:
        """The autocast context matching ``precision`` (a no-op for fp32)."""
        if self.precision == "fp32":
            return nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    @property
    def embed_dim(self) -> int:
        return int(self.identity["embed_dim"])

    def low_precision_visual(self) -> torch.nn.Module | None:
        """A copy of the image tower with its weights cast to ``precision`` (made once), or None where autocast is used.

        Cast weights beat autocast, which re-casts activations around every matmul and runs LayerNorm in fp32:
        ViT-B/32 on a bf16 CPU ran 38-39 img/s with bf16 weights vs 35-37 under autocast and no_grad, and 19-21
        under autocast and inference_mode (which turns off autocast's weight-cast cache; cosine to fp32 >= 0.9999);
        fp16 weights on CUDA are open_clip's own fast path. Only the image tower is copied, so text features never
        change, and only for CPU bf16 and CUDA (elsewhere reduced-precision weights are emulated or untested), and
        only for models whose ``encode_image`` is the image tower alone (open_clip's CLIP and CustomTextCLIP).
        """
        if self._low_visual is None and _casts_weights(self):
            dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
            self._low_visual = copy.deepcopy(self.model.visual).to(dtype).eval()
        return self._low_visual

    def drop_low_precision_visual(self) -> None:
        """Free the cast copy of the image tower (after reduced precision failed the fp32 check)."""
        self._low_visual = None


def _casts_weights(backbone: Backbone) -> bool:
    """Whether images are encoded by a cast-weights copy of the image tower (see ``Backbone.low_precision_visual``)."""
    if backbone.precision == "fp32" or not (backbone.device.type == "cuda" or (backbone.device.type, backbone.precision) == ("cpu", "bf16")):
        return False
    import open_clip

    return type(backbone.model).encode_image in (open_clip.CLIP.encode_image, open_clip.CustomTextCLIP.encode_image)


def register_package_configs() -> None:
    """Make the JSON model configs shipped in the package (tiny test model, demo CLIP) known to open_clip."""
    import open_clip

    if not set(list_package_configs()) <= set(open_clip.list_models()):
        open_clip.add_model_config(MODEL_CONFIG_DIR)


def list_package_configs() -> list[str]:
    """Names of the open_clip model configs shipped with fewshot_core."""
    return sorted(p.stem for p in MODEL_CONFIG_DIR.glob("*.json"))


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; anything else is checked and used as given."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise FewShotError("CUDA was requested but no CUDA GPU is visible to PyTorch. Use --device cpu or auto.")
    if device.startswith("mps") and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise FewShotError("MPS (the Apple-silicon GPU) was requested but PyTorch has no MPS device here. Use --device cpu or auto.")
    try:
        return torch.device(device)
    except RuntimeError as e:
        raise FewShotError(f"Unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps.") from e


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True on x86 CPUs with AVX512-BF16 or AMX, where bf16 matmuls are fast (elsewhere they are emulated)."""
    if platform.system() == "Linux" and os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8", errors="ignore") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """Turn ``auto`` into fp16 (GPU), bf16 (CPU with native bf16) or fp32."""
    if precision not in PRECISIONS:
        raise FewShotError(f"Unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}.")
    if precision != "auto":
        return precision
    if device.type in ("cuda", "mps"):
        return "fp16"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def _wants_quick_gelu(cfg: BackboneConfig) -> bool:
    """QuickGELU when asked, or when the pretrained tag was trained with it (OpenAI weights)."""
    if cfg.quick_gelu is not None:
        return cfg.quick_gelu
    if cfg.model.endswith("-quickgelu") or not cfg.pretrained or Path(cfg.pretrained).expanduser().is_file():
        return False
    import open_clip

    return bool(open_clip.get_pretrained_cfg(cfg.model, cfg.pretrained).get("quick_gelu", False))


def load_backbone(cfg: BackboneConfig | None = None) -> Backbone:
    """Load a frozen CLIP from open_clip (tag, local checkpoint file, or random init).

    Raises:
        FewShotError: unknown model or tag, missing file, or weights that cannot be downloaded.
    """
    import open_clip

    cfg = cfg or BackboneConfig()
    register_package_configs()
    if cfg.model not in open_clip.list_models():
        raise FewShotError(f"Unknown CLIP model {cfg.model!r}. See open_clip.list_models(), e.g. ViT-B-32, ViT-L-14.")
    device = resolve_device(cfg.device)
    quick_gelu = _wants_quick_gelu(cfg)
    pretrained = str(Path(cfg.pretrained).expanduser()) if cfg.pretrained and Path(cfg.pretrained).expanduser().is_file() else cfg.pretrained
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_INIT_SEED)  # random-init models are the same in every process
            model, _, preprocess = open_clip.create_model_and_transforms(
                cfg.model, pretrained=pretrained or None, force_quick_gelu=quick_gelu, cache_dir=cfg.weights_cache, device=device
            )
    except FewShotError:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged checkpoint fails in many ways (pickle, EOF, IndexError, KeyError, ...)
        raise FewShotError(_weights_error(cfg, e)) from e
    # eval() only: encoding runs under torch.inference_mode(), so no graph is built; requires_grad_(False)
    # would also turn off autocast's weight-cast cache (it caches casts of leaf weights that require grad),
    # which measured 21 vs 35-37 img/s for ViT-B/32 under bf16 autocast on a bf16 CPU. inference_mode turns
    # that cache off too (19 vs 35 img/s under no_grad), which is one reason images are encoded by a copy of
    # the image tower with cast weights instead (low_precision_visual).
    model.eval()
    identity = {
        "model": cfg.model,
        **weights_identity(cfg.pretrained),
        "quick_gelu": quick_gelu,
        "embed_dim": _embed_dim(model),
        "preprocess": repr(preprocess),
    }
    logging.getLogger(__name__).info("loaded %s (%s) on %s", cfg.model, cfg.pretrained or "random", device)
    precision = resolve_precision(cfg.precision, device)
    return Backbone(model, preprocess, open_clip.get_tokenizer(cfg.model), device, precision, cfg, identity)


def _embed_dim(model: torch.nn.Module) -> int:
    """The joint embedding size (output of encode_image / encode_text)."""
    visual = model.visual
    out = getattr(visual, "output_dim", None)
    if out is None:
        with torch.no_grad():
            size = visual.image_size if isinstance(visual.image_size, tuple) else (visual.image_size,) * 2
            out = model.encode_image(torch.zeros(1, 3, *size, device=next(model.parameters()).device)).shape[-1]
    return int(out)


def _weights_error(cfg: BackboneConfig, error: Exception) -> str:
    """A message for a failed weights load that says what to do next."""
    text = str(error)
    path = Path(cfg.pretrained).expanduser() if cfg.pretrained else None
    if path is not None and path.is_file():
        first = text.strip().splitlines()[0][:200] if text.strip() else ""
        return (
            f"{path} is not a usable {cfg.model} checkpoint ({type(error).__name__}{': ' + first if first else ''}). "
            "Give the open_clip weights file of this model (.bin, .pt or .safetensors), or an open_clip tag such as openai."
        )
    if "download" in text.lower() or "connection" in text.lower() or "hub" in text.lower():
        return (
            f"Could not download the {cfg.model} weights {cfg.pretrained!r} (no internet?). On a machine with "
            "internet they are downloaded once and cached; offline, pass a local checkpoint file with "
            "--pretrained /path/to/open_clip_pytorch_model.bin, or use the offline demo (--dataset demo)."
        )
    if "not a known tag" in text or "not found" in text:
        import open_clip

        tags = open_clip.list_pretrained_tags_by_model(cfg.model)
        return f"{cfg.pretrained!r} is neither a pretrained tag of {cfg.model} nor an existing file. Tags: {', '.join(tags) or 'none'}."
    return f"Could not load CLIP {cfg.model} with weights {cfg.pretrained!r}: {text}"
