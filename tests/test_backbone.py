import pytest
import torch

from fewshot_core import FewShotError
from fewshot_core.backbone import (
    BackboneConfig,
    _wants_quick_gelu,
    list_package_configs,
    load_backbone,
    resolve_device,
    resolve_precision,
)


def test_tiny_model_loads_offline(tiny_backbone):
    assert tiny_backbone.embed_dim == 32
    assert tiny_backbone.device.type == "cpu"
    assert tiny_backbone.identity["weights_tag"] == "random-init-seed0"
    assert "fewshot-tiny" in list_package_configs()


def test_random_init_is_the_same_every_time(tiny_backbone):
    again = load_backbone(BackboneConfig(model="fewshot-tiny", pretrained="", device="cpu"))
    for a, b in zip(tiny_backbone.model.parameters(), again.model.parameters()):
        assert torch.equal(a, b)


def test_local_checkpoint_file(tiny_backbone, tmp_path):
    ckpt = tmp_path / "tiny.pt"
    torch.save({"state_dict": tiny_backbone.model.state_dict()}, ckpt)
    loaded = load_backbone(BackboneConfig(model="fewshot-tiny", pretrained=str(ckpt), device="cpu", precision="fp32"))
    assert loaded.identity["weights_file"] == "tiny.pt" and len(loaded.identity["weights_sha256"]) == 64
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded.model.encode_image(x), tiny_backbone.model.encode_image(x))


def test_quick_gelu_follows_the_weights():
    assert _wants_quick_gelu(BackboneConfig("ViT-B-32", "openai")) is True
    assert _wants_quick_gelu(BackboneConfig("ViT-B-32", "laion2b_s34b_b79k")) is False
    assert _wants_quick_gelu(BackboneConfig("ViT-B-32", "openai", quick_gelu=False)) is False
    assert _wants_quick_gelu(BackboneConfig("ViT-B-32-quickgelu", "openai")) is False  # already in the config


def test_quick_gelu_is_applied_to_the_model():
    from open_clip.transformer import QuickGELU

    b = load_backbone(BackboneConfig("fewshot-tiny", "", quick_gelu=True, device="cpu"))
    assert any(isinstance(m, QuickGELU) for m in b.model.modules())


def test_unknown_model_and_tag_are_clear_errors():
    with pytest.raises(FewShotError, match="Unknown CLIP model"):
        load_backbone(BackboneConfig("ViT-Nope", ""))
    with pytest.raises(FewShotError, match="neither a pretrained tag"):
        load_backbone(BackboneConfig("fewshot-tiny", "no-such-tag", device="cpu"))


def test_download_failure_says_what_to_do():
    with pytest.raises(FewShotError, match="local checkpoint file"):
        load_backbone(BackboneConfig("RN50", "openai", device="cpu"))


def test_device_and_precision_choice(monkeypatch):
    import fewshot_core.backbone as backbone

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"  # CUDA first...
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto").type == "mps"  # ...then Apple's GPU...
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"  # ...then the CPU
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(FewShotError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_precision("auto", torch.device("cuda")) == "fp16"
    monkeypatch.setattr(backbone, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision("auto", torch.device("cpu")) == "bf16"
    monkeypatch.setattr(backbone, "cpu_has_native_bf16", lambda: False)
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"  # emulated bf16 would be slower than fp32
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"
    with pytest.raises(FewShotError):
        resolve_precision("int3", torch.device("cpu"))
