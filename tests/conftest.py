"""Shared fixtures: offline guard, tiny CLIP, generated datasets."""

from __future__ import annotations

import os
import socket

os.environ["HF_HUB_OFFLINE"] = "1"  # never reach the network, even by accident
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("FEWSHOT_CACHE", "/nonexistent-fewshot-cache-set-by-tests")

import pytest  # noqa: E402

from fewshot_core.backbone import BackboneConfig, load_backbone  # noqa: E402

from .fixtures import make_cub, make_pets  # noqa: E402

_real_connect = socket.socket.connect


def _local_only_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("/"):
        raise OSError(f"test tried to reach the network ({host}); tests must stay offline")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Every test: no outside connections, and a private cache root."""
    monkeypatch.setattr(socket.socket, "connect", _local_only_connect)
    monkeypatch.setenv("FEWSHOT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def tiny_backbone():
    """The tiny random-init CLIP shipped with the package, fp32 on CPU."""
    return load_backbone(BackboneConfig(model="fewshot-tiny", pretrained="", device="cpu", precision="fp32"))


@pytest.fixture
def cub_root(tmp_path):
    return make_cub(tmp_path / "cub")


@pytest.fixture
def pets_root(tmp_path):
    return make_pets(tmp_path / "pets")


@pytest.fixture(scope="session")
def small_bundle():
    """Synthetic features with known structure, small enough for CPU tests."""
    from fewshot_core.synthetic import SyntheticSpec, make_synthetic

    return make_synthetic(SyntheticSpec(num_classes=20, dim=64, train_per_class=16, test_per_class=15, descriptions_per_class=12, seed=1))
