"""Tiny random classifiers of the Hub's families, saved the way their libraries save them, and a
huggingface_hub cache laid out by hand, for offline tests of dfdemo's Hub detectors.

- timm: ``test_efficientnet`` / ``test_convnext`` / ``test_vit`` (timm's own test models), saved with
  ``timm.models._hub.save_for_hf(..., safe_serialization=True)`` (config.json with architecture,
  pretrained_cfg, label_names; model.safetensors);
- transformers: a small ``ViTForImageClassification`` and ``ConvNextForImageClassification`` with
  ``id2label`` Real/Fake (and a DeiT and a Swin: ``token_folder``), saved with ``save_pretrained``
  beside their image processor's ``save_pretrained`` (preprocessor_config.json).
Nothing is downloaded. Random weights: the scores mean nothing, the code paths are the real ones.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import torch

COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
REAL_FAKE = {0: "Real", 1: "Fake"}


def timm_folder(folder: Path, architecture: str = "test_efficientnet", labels=("real", "fake"), seed: int = 0) -> Path:
    """A timm classifier with ``len(labels)`` outputs named ``labels`` (None: unnamed), as timm saves it."""
    import timm
    from timm.models._hub import save_for_hf

    torch.manual_seed(seed)
    n = len(labels) if labels else 2
    model = timm.create_model(architecture, pretrained=False, num_classes=n).eval()
    save_for_hf(model, str(folder), model_config={"label_names": list(labels)} if labels else None, safe_serialization=True)
    return folder


def vit_folder(folder: Path, id2label: dict | None = None, image: int = 64, seed: int = 0, **config) -> Path:
    """A small transformers ViT classifier (``config`` overrides the tiny defaults; ``ViTConfig()``'s
    own defaults are ViT-B/16), as ``save_pretrained`` writes it, with its ``ViTImageProcessor``."""
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    labels = id2label or REAL_FAKE
    small = dict(image_size=image, patch_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    torch.manual_seed(seed)
    cfg = ViTConfig(**{**small, **config}, id2label=labels, label2id={v: k for k, v in labels.items()})
    ViTForImageClassification(cfg).eval().save_pretrained(folder)
    ViTImageProcessor(size={"height": cfg.image_size, "width": cfg.image_size}).save_pretrained(folder)
    return folder


def convnext_folder(folder: Path, id2label: dict | None = None, image: int = 64, seed: int = 0) -> Path:
    """A small transformers ConvNeXt classifier with its ``ConvNextImageProcessor`` (shortest edge ``image``)."""
    from transformers import ConvNextConfig, ConvNextForImageClassification, ConvNextImageProcessor

    labels = id2label or REAL_FAKE
    torch.manual_seed(seed)
    cfg = ConvNextConfig(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], image_size=image, id2label=labels,
                         label2id={v: k for k, v in labels.items()})
    ConvNextForImageClassification(cfg).eval().save_pretrained(folder)
    ConvNextImageProcessor(size={"shortest_edge": image}).save_pretrained(folder)
    return folder


def token_folder(folder: Path, family: str, image: int = 64, seed: int = 0) -> Path:
    """A small transformers DeiT (class + distillation tokens) or Swin (no class token) classifier
    with labels real/fake and a ``ViTImageProcessor``: the token models' other layouts."""
    from transformers import DeiTConfig, DeiTForImageClassification, SwinConfig, SwinForImageClassification, ViTImageProcessor

    labels = {0: "real", 1: "fake"}
    names = dict(id2label=labels, label2id={v: k for k, v in labels.items()}, image_size=image)
    torch.manual_seed(seed)
    if family == "deit":
        model = DeiTForImageClassification(DeiTConfig(patch_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                      intermediate_size=64, **names))
    else:
        model = SwinForImageClassification(SwinConfig(patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 2], window_size=4, **names))
    model.eval().save_pretrained(folder)
    ViTImageProcessor(size={"height": image, "width": image}).save_pretrained(folder)
    return folder


def fill_hub_cache(cache: Path, repo: str, folder: Path, commit: str = COMMIT, refs: tuple[str, ...] = ("main",)) -> Path:
    """Lay out the files of ``folder`` the way huggingface_hub caches a snapshot of ``repo``
    (``models--owner--name/snapshots/<commit>/…`` and ``refs/<ref>`` holding the commit)."""
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    snap = repo_dir / "snapshots" / commit
    snap.mkdir(parents=True)
    for f in folder.iterdir():
        shutil.copy(f, snap / f.name)
    (repo_dir / "refs").mkdir(exist_ok=True)
    for ref in refs:
        (repo_dir / "refs" / ref).write_text(commit)
    return snap
