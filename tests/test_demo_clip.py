"""The demo CLIP's training pipeline, on a few steps (the committed-weights checks are in test_demo_pipeline)."""

import json
import math

import numpy as np
import open_clip
import torch
from PIL import Image

from fewshot_core.backbone import load_backbone, register_package_configs
from fewshot_core.demo.clip import (
    DemoClipConfig,
    _caption,
    contrastive_loss,
    demo_backbone_config,
    held_out_classes,
    to_model_input,
    train_demo_clip,
    training_pairs,
)
from fewshot_core.demo.words import RARE_TERMS


def test_captions_name_some_attributes_and_can_be_wrong():
    rng = np.random.default_rng(0)
    cfg = DemoClipConfig(wrong_attribute_p=0.0, synonym_p=0.0, rare_term_p=1.0, full_caption_p=0.0)
    captions = [_caption("red", "striped", "circle", rng, cfg) for _ in range(300)]
    assert {c.split()[0] for c in captions} >= {"a", "something"}
    assert all(any(w in c for w in ("red", "striped", "circle")) for c in captions)
    assert not any(all(w in c for w in ("red", "striped", "circle")) for c in captions)  # never all three without full_caption_p
    assert not any(c.startswith("a photo of") for c in captions)  # the zero-shot prompt's form is never a caption
    wrong = [_caption("red", "striped", "circle", rng, DemoClipConfig(wrong_attribute_p=1.0, rare_term_p=1.0, synonym_p=0.0)) for _ in range(300)]
    others = ("orange", "yellow", "green", "blue", "purple", "solid", "dotted", "checkered", "square", "triangle", "star", "cross", "ring", "hexagon")
    assert any(any(w in c.replace(".", "").split() for w in others) for c in wrong)


def test_rare_class_terms_never_reach_the_captions_at_rare_term_p_zero():
    register_package_configs()
    tok = open_clip.get_tokenizer("fewshot-demo")
    _, captions, _ = training_pairs(DemoClipConfig(pool_images=2000, rare_term_p=0.0), images=np.zeros((2000, 1), np.uint8))
    term_ids = [[i for i in tok([t])[0].tolist() if 0 < i < 49406] for t in RARE_TERMS]  # "hexagon" -> "hex", "agon</w>"
    rare_ids = {i for ids in term_ids for i in ids}
    assert len(rare_ids) >= len(RARE_TERMS)
    used = set(tok(sorted(set(captions))).flatten().tolist())
    assert not rare_ids & used
    _, with_terms, _ = training_pairs(DemoClipConfig(pool_images=2000, rare_term_p=0.5), images=np.zeros((2000, 1), np.uint8))
    assert rare_ids <= set(tok(sorted(set(with_terms))).flatten().tolist())


def test_held_out_classes_never_appear_in_training():
    cfg = DemoClipConfig(pool_images=300)
    images, captions, held = training_pairs(cfg, workers=1)
    assert len(held) == cfg.held_out_classes == len(held_out_classes(cfg)) and images.shape == (300, 64, 64, 3)
    full = {" ".join(h) for h in held}
    assert not any(name in c for c in captions for name in full)


def test_model_input_matches_open_clip_preprocess():
    register_package_configs()
    _, _, preprocess = open_clip.create_model_and_transforms("fewshot-demo")
    images, _, _ = training_pairs(DemoClipConfig(pool_images=4), workers=1)
    ours = to_model_input(torch.from_numpy(images), open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD)
    theirs = torch.stack([preprocess(Image.fromarray(im)) for im in images])
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_contrastive_loss_counts_identical_captions_as_right():
    scale = torch.tensor(10.0)
    image, text = torch.eye(2), torch.eye(2)  # logits [[10, 0], [0, 10]], two different captions
    assert math.isclose(contrastive_loss(image, text, scale, torch.tensor([0, 1])).item(), math.log(1 + math.exp(-10)), abs_tol=1e-6)
    same = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # one caption twice: logits [[10, 10], [0, 0]]
    # image->text: target (1/2, 1/2) on equal logits: log 2 per row; text->image: rows [10, 0], target (1/2, 1/2)
    expected = (math.log(2) + math.log(1 + math.exp(-10)) + 5.0) / 2
    assert math.isclose(contrastive_loss(image, same, scale, torch.tensor([0, 0])).item(), expected, abs_tol=1e-5)


def test_training_writes_weights_loadable_as_a_checkpoint_file(tmp_path):
    out = tmp_path / "demo-clip.safetensors"
    record = train_demo_clip(DemoClipConfig(steps=2, batch_size=8, pool_images=16), out, device="cpu", workers=1, evaluate=False)
    assert out.is_file() and out.stat().st_size < 16e6  # fp16, small enough to commit
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["config"]["steps"] == 2 and saved["steps_done"] == 2 and not saved["stopped_early"] and record["device"] == "cpu"
    backbone = load_backbone(demo_backbone_config("cpu", out))
    assert backbone.identity["weights_file"] == "demo-clip.safetensors" and backbone.embed_dim == 256
