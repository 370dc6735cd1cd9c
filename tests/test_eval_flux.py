"""`eval` on the tiny FLUX: the cure, FD and img2img (FluxImg2ImgPipeline) run and are counted through
the transformer; LEDITS++ is skipped with its reason; steps and guidance are FLUX's own unless given."""

from __future__ import annotations

import json

import pytest

from cli_fixtures import cli_models, run_cli, write_photo  # noqa: F401  (fixtures)
from conftest import random_photo
from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit.cure.config import CureConfig
from freecure_edit.evaluation import build_method
from freecure_edit.evaluation.methods import UnetCounter
from freecure_edit.evaluation.methods.base import SkippedMethod
from freecure_edit.evaluation.methods.cure import CureCache

STEPS = 4
PROMPT = "a woman with black curly hair"


@pytest.fixture(scope="module")
def setup(load_tiny):
    from freecure_edit import FreeCure

    freecure = FreeCure(load_tiny("flux", "random"), parser=FixedRegionParser(HAIR_ON_TOP))
    counter = UnetCounter(freecure.backbone.attention_model)
    cache = CureCache(freecure)
    base = CureConfig(steps=STEPS, detect=False, working_size=64)

    def method(spec):
        return build_method(spec, pipe=freecure.pipe, counter=counter, cache=cache, base_config=base,
                            steps=STEPS, guidance=3.5, backbone=freecure.backbone)

    yield freecure, counter, method
    counter.close()


def test_the_cure_and_fd_cost_what_the_transformer_hook_counts(setup):
    _, counter, method = setup
    photo = random_photo(64, 48, 3)
    before = counter.evaluations
    cure = method("cure").run(photo, PROMPT, 0)
    assert cure.evaluations == counter.evaluations - before == (STEPS + 1) + STEPS + STEPS
    fd = method("fd").run(photo, PROMPT, 0)
    assert fd.evaluations == (STEPS + 1) + STEPS and fd.image.size == photo.size
    stronger = method("cure:omega=4").run(photo, PROMPT, 0)
    assert list(stronger.image.getdata()) != list(cure.image.getdata())


def test_img2img_runs_through_flux_at_the_photos_size_and_leaves_the_processors(setup):
    freecure, counter, method = setup
    photo = random_photo(64, 48, 5)
    processors = {name: type(p) for name, p in freecure.pipe.transformer.attn_processors.items()}
    before = counter.evaluations
    output = method("img2img:strength=0.5").run(photo, PROMPT, 0)

    assert output.image.size == photo.size
    assert output.evaluations == counter.evaluations - before == STEPS // 2, "one row per step, half the steps"
    assert {name: type(p) for name, p in freecure.pipe.transformer.attn_processors.items()} == processors


def test_ledits_is_skipped_on_flux_with_its_reason(setup):
    skipped = setup[2]("ledits")
    assert isinstance(skipped, SkippedMethod) and "FLUX" in skipped.reason


def test_eval_on_flux_reports_the_skip_and_the_models_own_guidance(cli_models, tiny_model_folder, tmp_path):  # noqa: F811
    photos = tmp_path / "photos"
    photos.mkdir()
    write_photo(photos / "face.png", size=(64, 64))
    output = tmp_path / "out"
    result = run_cli(["eval", photos, "-o", output, "--model", tiny_model_folder("flux", "random"),
                      "--parser-model", cli_models.segformer, "--metrics", "psnr", "--device", "cpu",
                      "--steps", "2", "--working-size", "64", "-p", "a <S> with black hair",
                      *[a for m in ("input", "fd", "cure", "ledits", "img2img") for a in ("-m", m)]])

    assert result.exit_code == 0, result.output
    summary = json.loads((output / "summary.json").read_text())
    assert summary["results"] == summary["expected"] == 4
    assert [(entry["method"], "FLUX" in entry["reason"]) for entry in summary["skipped"]] == [("ledits", True)]
    assert list(summary["settings"]["models"].values()) == [{"family": "FLUX.1-dev", "steps": 2, "guidance": 3.5}]
    report = (output / "report.html").read_text()
    assert "ledits</b> skipped" in report and "2 steps, guidance 3.5" in report
    lines = [json.loads(text) for text in (output / "results.jsonl").read_text().splitlines()]
    assert {line["method"] for line in lines} == {"input", "fd", "cure", "img2img"}
    assert all(line["evaluations"] > 0 for line in lines if line["method"] != "input")
