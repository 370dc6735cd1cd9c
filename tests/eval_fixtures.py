"""Tiny metric models for the eval tests, saved the way their real checkpoints are and loaded through
the real loading code: a random CLIP with the byte tokenizer (save_pretrained), and torchvision's
AlexNet with random weights in a torch hub cache (the file lpips' backbone is read from)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

CLIP_IMAGE_SIZE = 32


def save_tiny_clip(folder: Path) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from freecure_edit.testing import BYTE_VOCAB_SIZE, tiny_clip_tokenizer

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(vocab_size=BYTE_VOCAB_SIZE, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=CLIP_IMAGE_SIZE, patch_size=8),
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(folder)
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": CLIP_IMAGE_SIZE},
                                           crop_size={"height": CLIP_IMAGE_SIZE, "width": CLIP_IMAGE_SIZE}),
        tokenizer=tiny_clip_tokenizer(),
    )
    processor.save_pretrained(folder)
    return folder


def save_random_alexnet(torch_home: Path) -> Path:
    """torchvision's AlexNet, random weights, where torch.hub keeps the downloaded ImageNet file."""
    from torchvision import models

    from freecure_edit.evaluation.metrics.lpips import backbone_file

    torch.manual_seed(0)
    name = backbone_file("alex")[0].rsplit("/", 1)[-1]
    path = torch_home / "hub" / "checkpoints" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(models.alexnet().state_dict(), path)
    return path


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def lpips_torch_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("torch-home")
    save_random_alexnet(home)
    return home
