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
    page.wait_for_function("document.getElementById('mask-state').textContent.includes('regions of hair')")
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
    assert "result.png?download=1&token=" in page.get_attribute("#download", "href")
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


ATTACK_PAGE = """<!doctype html><meta charset="utf-8"><body><script>
const query = new URLSearchParams(location.search);
const target = query.get("target"), photo = query.get("photo"), cure = query.get("cure");
window.results = {};
(async () => {
  const body = JSON.stringify({ photo, prompt: "a woman with red hair" });
  // A "simple" request: no preflight, so the browser sends it; only the server can refuse it.
  await fetch(`${target}/api/cures`, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body })
    .then(() => { window.results.start = "sent"; }, (error) => { window.results.start = `error ${error}`; });
  await fetch(`${target}/api/cures/${cure}/cancel`, { method: "POST", mode: "no-cors", body: "{}" })
    .then(() => { window.results.cancel = "sent"; }, (error) => { window.results.cancel = `error ${error}`; });
  // The oldest way: a form posted into a hidden frame.
  const sink = document.createElement("iframe"); sink.name = "sink"; document.body.append(sink);
  const form = document.createElement("form");
  form.method = "POST"; form.action = `${target}/api/cures/${cure}/cancel`; form.target = "sink"; form.enctype = "text/plain";
  document.body.append(form); form.submit();
  window.results.read = await fetch(`${target}/api/cures`).then((r) => r.text()).then((t) => `read ${t.slice(0, 40)}`,
                                                                              (error) => `error ${error}`);
  window.results.image = await new Promise((resolve) => {
    const image = new Image(); image.onload = () => resolve("loaded"); image.onerror = () => resolve("error");
    image.src = `${target}/api/photos/${photo}/image.png`;
  });
  await new Promise((resolve) => setTimeout(resolve, 1500));  // the form's post
  window.done = true;
})();
</script>"""


@pytest.fixture
def other_site(tmp_path):
    """A second web site: a plain HTTP server on another port of 127.0.0.1 (another origin) with one page."""
    import functools
    import http.server
    import threading

    (tmp_path / "attack.html").write_text(ATTACK_PAGE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_page_from_another_origin_cannot_start_read_or_cancel_a_cure(browser, ui_server, other_site):  # noqa: F811
    from test_ui_api import png

    from conftest import random_photo

    photo = ui_server.call("/api/photos", raw=png(random_photo(64, 48, seed=9)))[1]["id"]
    # A cure that runs a while, so that a cancel would catch it running.
    long = ui_server.call("/api/cures", {"photo": photo, "prompt": "a woman with red hair",
                                         "options": {"steps": 40}})[1]["id"]
    count = len(ui_server.call("/api/cures")[1]["cures"])

    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{other_site}/attack.html?target={ui_server.url}&photo={photo}&cure={long}")
    page.wait_for_function("window.done === true")
    results = page.evaluate("window.results")

    assert len(ui_server.call("/api/cures")[1]["cures"]) == count, "another site started a cure"
    assert ui_server.wait_for(long)["state"] == "done", "another site cancelled a cure"
    assert results["read"].startswith("error"), results      # no CORS grant: nothing can be read
    assert results["image"] == "error", results               # an image without the token is refused


def test_looking_at_masks_changes_nothing_and_the_page_shows_only_what_applies(browser, ui_server, tmp_path):  # noqa: F811
    from freecure_edit.imageio import read_parameters

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(ui_server.url + "/")
    assert not page.is_visible("#slider") and not page.is_visible("#download")  # nothing cured yet

    drop_file(page, "#drop", SAMPLE, "image/jpeg")
    page.wait_for_selector("#photos li.current")
    assert page.is_disabled("#cure"), "a cure needs a prompt"
    page.fill("#prompt", "a woman with black curly hair <lora:style:0.8>")
    page.wait_for_function("!document.getElementById('cure').disabled")
    page.wait_for_selector("#explain .note")
    assert "lora" in page.inner_text("#explain .note").lower()   # the warning `fix` prints, on the page

    page.click("#show-masks")
    page.wait_for_function("document.getElementById('mask-state').textContent.includes('shown')")
    assert "the cure finds its own masks" in page.inner_text("#mask-state")
    page.click("#cure")
    page.wait_for_selector("#queue li[data-state=done]")
    cure = ui_server.call("/api/cures")[1]["cures"][-1]
    assert "callback" not in cure["mask_sources"].values(), cure  # shown, not painted: the parser's masks
    page.wait_for_function("!document.getElementById('result-tools').hidden")

    status, download, _ = ui_server.call(f"/api/cures/{cure['id']}/result.png?download=1")
    saved = tmp_path / "download.png"
    saved.write_bytes(download)
    stored = read_parameters(saved)
    assert stored["prompt"] == cure["prompt"] and stored["config"]["steps"] == 3

    # A cure that ends without a result takes the previous comparison and its download away.
    page.fill("#steps", "400")
    page.click("#cure")
    page.wait_for_selector("#queue li[data-state=running] button")
    page.click("#queue li[data-state=running] button")
    page.wait_for_selector("#queue li[data-state=cancelled]")
    page.wait_for_function("document.getElementById('result-tools').hidden")
    assert not page.is_visible("#compare") and page.get_attribute("#download", "href") is None
