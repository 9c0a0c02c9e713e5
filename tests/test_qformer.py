import numpy as np
import pytest
import torch

from fewshot_core import FewShotError
from fewshot_core.qformer import (
    QFormerConfig,
    QFormerTrainConfig,
    TextSide,
    TextToImageQFormer,
    list_qformer_configs,
    load_qformer_config,
    train_qformer,
    translate,
    translation_loss,
)

from .alignment import held_out_alignment

# Images I1=(1,0), I2=(0,1); translations I'1=(1,0), I'2=(0,-1): c = [[1, 0], [0, -1]]
I = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # noqa: E741 - the paper's name for image features
T = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
# Translations I'1 = I'2 = (1,0): c = [[1, 1], [0, 0]]
T_SAME = torch.tensor([[1.0, 0.0], [1.0, 0.0]])


@pytest.mark.parametrize(
    "form, images, translated, expected",
    [
        ("paper", I, T, 0.5),  # matched (1-1)+(1+1)=2, unmatched 0 -> 2/4
        ("paper-literal", I, T, 0.75),  # matched max(0,1)+max(0,-1)=1, unmatched (1-0)+(1-0)=2 -> 3/4
        ("balanced", I, T, 1.0),  # mean matched (0+2)/2=1, mean unmatched 0
        ("infonce", I, T, float(np.log1p(np.exp(-1)) + np.log1p(np.exp(1))) / 2),  # temperature 1
        ("paper", I, T_SAME, 0.5),  # matched (0)+(1)=1, unmatched max(0,1)+max(0,0)=1 -> 2/4
        ("balanced", I, T_SAME, 1.0),  # matched (0+1)/2, unmatched (1+0)/2
    ],
)
def test_loss_forms_by_hand(form, images, translated, expected):
    assert translation_loss(images, translated, form=form, temperature=1.0).item() == pytest.approx(expected, abs=1e-5)


def test_masking_same_class_negatives_by_hand():
    same = torch.tensor([0, 0])
    assert translation_loss(I, T_SAME, same, "paper", mask_same_class=True).item() == pytest.approx(0.25)  # only matched 1/4
    assert translation_loss(I, T_SAME, same, "balanced", mask_same_class=True).item() == pytest.approx(0.5)
    assert translation_loss(I, T_SAME, torch.tensor([0, 1]), "paper", mask_same_class=True).item() == pytest.approx(0.5)
    masked = translation_loss(I, T, same, "infonce", mask_same_class=True, temperature=1.0)
    assert masked.item() == pytest.approx(0.0, abs=1e-6)  # each row has only its own pair left


def test_unknown_loss():
    with pytest.raises(FewShotError, match="Unknown Q-Former loss"):
        translation_loss(I, T, form="mse")


def test_named_sizes():
    assert {"tiny", "small", "base"} <= set(list_qformer_configs())
    assert load_qformer_config("tiny", num_queries=3).num_queries == 3
    with pytest.raises(FewShotError, match="Unknown Q-Former size"):
        load_qformer_config("huge")


def test_forward_pooled_and_tokens():
    torch.manual_seed(0)
    pooled = TextToImageQFormer(load_qformer_config("tiny"), 16, 24).eval()
    assert pooled(torch.randn(5, 16)).shape == (5, 24)
    tok = TextToImageQFormer(load_qformer_config("tiny", text_input="tokens"), 16, 24).eval()
    torch.nn.init.normal_(tok.out.weight)  # as after training: the zero-initialised output now reads the tokens
    tokens, mask = torch.randn(2, 6, 16), torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    out = tok(torch.randn(2, 16), tokens, mask)
    changed = tokens.clone()
    changed[0, 3:] = 100.0  # padding of text 0: must not matter
    changed[1, 0] += 1.0  # a real token of text 1: must matter
    with torch.no_grad():
        pooled_in = torch.zeros(2, 16)
        base, after = tok(pooled_in, tokens, mask), tok(pooled_in, changed, mask)
    assert out.shape == (2, 24)
    assert torch.allclose(after[0], base[0], atol=1e-5) and not torch.allclose(after[1], base[1])
    with pytest.raises(FewShotError, match="per-token"):
        tok(torch.randn(2, 16))


def test_training_lowers_held_out_cosine_error(small_bundle):
    report = held_out_alignment(small_bundle, load_qformer_config("tiny"), QFormerTrainConfig(epochs=30, lr=3e-3), held_out_per_class=3)
    trained, untrained = report["trained"], report["untrained"]
    assert trained["cosine_error"] < untrained["cosine_error"] - 0.15
    assert trained["retrieval_acc"] > 3 / 20  # well above chance (1/20)
    assert report["losses"][-1] < report["losses"][0]


def test_same_seed_same_translator(small_bundle):
    text = TextSide(small_bundle.description_features, small_bundle.description_labels)
    cfg = QFormerTrainConfig(epochs=2)
    a, b = (
        translate(train_qformer(small_bundle.train_features, small_bundle.train_labels, text, load_qformer_config("tiny"), cfg).model, text)
        for _ in range(2)
    )
    assert np.array_equal(a, b)


def test_classes_without_descriptions_are_a_clear_error(small_bundle):
    text = TextSide(small_bundle.description_features[:12], small_bundle.description_labels[:12])  # class 0 only
    with pytest.raises(FewShotError, match="no descriptions"):
        train_qformer(small_bundle.train_features, small_bundle.train_labels, text, QFormerConfig(), QFormerTrainConfig(epochs=1))


@pytest.mark.parametrize("text_input", ["pooled", "tokens"])
def test_untrained_qformer_returns_the_raw_text(text_input):
    torch.manual_seed(3)
    model = TextToImageQFormer(load_qformer_config("small", text_input=text_input), 32, 32).eval()
    pooled, tokens, mask = torch.randn(7, 32), torch.randn(7, 5, 32), torch.ones(7, 5, dtype=torch.bool)
    with torch.no_grad():
        out = model(pooled, tokens, mask)
    assert torch.allclose(out, pooled, atol=1e-6)


def test_damaged_cached_qformer_is_retrained_never_loaded(small_bundle, tmp_path):
    from fewshot_core.qformer import load_qformer, save_qformer

    arch, cfg = load_qformer_config("tiny"), QFormerTrainConfig(epochs=2)
    text = TextSide(small_bundle.description_features, small_bundle.description_labels)
    model = train_qformer(small_bundle.train_features, small_bundle.train_labels, text, arch, cfg).model
    path = tmp_path / "q.safetensors"
    save_qformer(path, model, arch, cfg)
    loaded = load_qformer(path, arch, 64, 64)
    assert loaded is not None and np.array_equal(translate(loaded, text), translate(model, text))
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF  # flip bits inside the last tensor's data: still a valid safetensors file
    path.write_bytes(bytes(raw))
    assert load_qformer(path, arch, 64, 64) is None and not path.exists()  # checksum mismatch: deleted, to be retrained
    path.write_bytes(b"not a safetensors file")
    assert load_qformer(path, arch, 64, 64) is None and not path.exists()
