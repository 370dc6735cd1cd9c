"""report.html from the Python API (run_eval), opened in a real headless browser: Debian's chromium
driven by Playwright for Python. Skipped, with the reason, where either is missing.

    apt-get install -y chromium && pip install playwright   # Playwright's own browser download is not needed
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import random_photo
from cure_fixtures import HAIR_ON_TOP
from eval_fixtures import tiny_clip  # noqa: F401  (fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tiny_model_folder, tiny_clip, tmp_path_factory):
    from freecure_edit.evaluation import EvalSettings, run_eval
    from mask_fixtures import save_tiny_segformer

    root = tmp_path_factory.mktemp("eval-report")
    photos = root / "photos"
    photos.mkdir()
    random_photo(64, 64, 0).save(photos / "a.png")
    parser = save_tiny_segformer(root / "segformer", hot_label="hair")
    settings = EvalSettings(
        input=photos, output=root / "out", prompts=("a <S> with black curly hair",),
        methods=("input", "fd", "cure", "img2img"), metrics=("clip", "psnr"), seeds=(0,),
        models=(str(tiny_model_folder("sd", "smooth")),), steps=2, parser_model=str(parser), device="cpu",
        metric_options={"clip_model": str(tiny_clip)},
    )
    summary = run_eval(settings)
    assert summary["results"] == 4
    return root / "out" / "report.html"


def test_the_report_is_one_offline_file_with_its_images_beside_it(report):
    text = report.read_text()
    assert "http://" not in text and "https://" not in text  # nothing to fetch
    for name in ("input", "fd", "cure", "img2img"):
        assert f"{name}-seed0.png" in text
    assert "masks.png" in text and "Table 1" in text and "Table 2" in text


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")
def test_the_report_renders_in_a_real_browser(report, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)")
    errors, failed = [], []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "Array.from(document.images).map(i => ({src: i.src.slice(0, 80), ok: i.complete && i.naturalWidth > 0}))")
        screenshot = tmp_path / "report.png"
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    assert not errors and not failed, (errors, failed)
    assert len(images) >= 7 and all(image["ok"] for image in images), images  # 5 result images + 2 plots
    from PIL import Image

    pixels = np.asarray(Image.open(screenshot).convert("L"), dtype=np.float64)
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.01  # not blank: text, tables, images drawn
