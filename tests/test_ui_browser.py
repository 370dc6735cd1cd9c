"""The web page in a real browser (headless Chromium driven by Playwright) on the tiny model: drop a
photo, type a prompt and see it explained, show the masks and paint on them, cure, follow the queue,
and see the result and the before/after slider; the screenshot must not be blank.

Needs Debian's `chromium` (apt-get install chromium) and `pip install playwright`; skipped otherwise.
Playwright's own browser download is not used (it needs the internet).
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from ui_fixtures import ui_server  # noqa: F401

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "astronaut-face.jpg"
CHROMIUM = os.environ.get("FREECURE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright to run the browser test")
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium: apt-get install chromium (or set FREECURE_CHROMIUM to its path)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


def drop_file(page, selector: str, path: Path, mime: str) -> None:
    """A real drop event carrying the file, as a file manager's drag and drop sends it."""
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    page.evaluate("""([selector, name, mime, encoded]) => {
        const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type: mime }));
        const target = document.querySelector(selector);
        for (const type of ["dragenter", "dragover", "drop"])
            target.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }""", [selector, path.name, mime, encoded])


def test_a_cure_from_drop_to_slider_in_a_real_browser(browser, ui_server, tmp_path):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(ui_server.url + "/")

    drop_file(page, "#drop", SAMPLE, "image/jpeg")
    page.wait_for_selector("#photos li.current")
    page.wait_for_function("document.getElementById('photo').naturalWidth > 0")
    page.fill("#prompt", "a woman with black curly hair, laughing")
    page.wait_for_selector("#explain .attr.fasa")
    assert "hair" in page.inner_text("#explain") and "APG" in page.inner_text("#explain")

    page.click("#show-masks")
    page.wait_for_function("document.getElementById('mask-state').textContent.includes('parser regions of hair')")
    box = page.locator("#mask").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.8)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.8, steps=8)
    page.mouse.up()
    assert "painted by hand" in page.inner_text("#mask-state")

    page.click("#cure")
    page.wait_for_selector("#queue li[data-state=done]")
    page.wait_for_function("document.getElementById('after').complete && "
                           "document.getElementById('after').naturalWidth > 0")
    assert page.is_visible("#compare") and page.is_visible("#slider")
    natural = page.evaluate("[document.getElementById('after').naturalWidth, "
                            "document.getElementById('after').naturalHeight]")
    with PIL.Image.open(SAMPLE) as sample:
        assert natural == list(sample.size)  # the cure comes back at the photo's own size
    page.fill("#slider", "30")
    page.dispatch_event("#slider", "input")
    assert "30%" in page.get_attribute("#after", "style")
    assert page.get_attribute("#download", "href").endswith("result.png?download=1")
    assert "cured" in page.inner_text("#message")
    cure = ui_server.call("/api/cures")[1]["cures"][-1]
    assert cure["mask_sources"] == {"hair": "callback"}  # the mask shown and painted on the page was used

    shot = tmp_path / "ui.png"
    page.locator("main").screenshot(path=str(shot))
    saved = Path(os.environ.get("FREECURE_UI_SCREENSHOT", tmp_path / "kept.png"))
    shutil.copy(shot, saved)
    with PIL.Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    assert pixels.std() > 20, "the screenshot is blank"
    compare = page.locator("#compare").bounding_box()
    assert compare["height"] > 100
    assert errors == []
    page.close()
