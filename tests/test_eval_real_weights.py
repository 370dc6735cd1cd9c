"""`freecure-edit eval` with the real metrics. Skipped unless FREECURE_REAL_WEIGHTS=1.

    FREECURE_REAL_WEIGHTS=1 python -m pytest -m real_weights -q tests/test_eval_real_weights.py

Needs, in the local caches: Stable Diffusion 1.5 and jonathandinu/face-parsing (Hugging Face),
openai/clip-vit-large-patch14 (Hugging Face), the insightface pack antelopev2 in ~/.insightface/models/,
and torchvision's alexnet-owt-7be5be79.pth in ~/.cache/torch/hub/checkpoints/. 2 photos x 3 prompts x
5 methods at 30 steps: a few minutes on a GPU.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.real_weights,
    pytest.mark.skipif(os.environ.get("FREECURE_REAL_WEIGHTS") != "1", reason="set FREECURE_REAL_WEIGHTS=1"),
]

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
PROMPTS = ("a <S> with black curly hair", "a <S> wearing sunglasses, laughing happily",
           "a <S> with blonde hair and blue eyes")


def test_eval_with_the_real_metrics_on_two_photos_and_three_prompts(tmp_path):
    from click.testing import CliRunner

    from freecure_edit.cli.app import cli

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("astronaut.png", "astronaut-face.jpg"):
        (photos / name).write_bytes((SAMPLES / name).read_bytes())
    output = tmp_path / "out"
    args = ["eval", str(photos), "-o", str(output), "--subject", "woman", "--steps", "30", "--json",
            *[a for p in PROMPTS for a in ("-p", p)]]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["results"] == summary["expected"] == 2 * 3 * 5
    lines = [json.loads(line) for line in (output / "results.jsonl").read_text().splitlines()]
    assert all(line["if"] is not None for line in lines), "the real detector found no face in a sample"
    rows = next(iter(summary["table1"].values()))
    print(json.dumps(rows, indent=1))
    assert rows["input"]["if"] == pytest.approx(1.0, abs=1e-4)
    assert 0.0 < rows["input"]["pc"] < 0.5  # CLIP-T cosines of real images sit around 0.2-0.35
    # The cure keeps the identity far better than regenerating the face does.
    assert rows["cure"]["if"] > 0.5 and rows["cure"]["if"] > rows["fd"]["if"]
    assert rows["cure"]["evaluations"] > rows["img2img"]["evaluations"] > 0
