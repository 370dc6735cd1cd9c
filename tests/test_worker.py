"""`freecure-edit worker` in one long-lived subprocess on the tiny models, spoken to as an editor would:
good, bad and malformed requests, base64 both ways, a painted mask, a cure that fails half-way, twenty
requests in a row with the memory read after each, and the shutdown.

Every line read from the worker's stdout is checked to be a protocol message (worker_fixtures.py).
"""

from __future__ import annotations

import base64
import itertools

import numpy as np
import PIL.Image
import pytest

from cli_fixtures import STEPS, cli_models, write_photo  # noqa: F401
from metadata_fixtures import Base, private_parts, write_private_jpeg
from freecure_edit.worker.protocol import PROTOCOL_VERSION
from freecure_edit.imageio import read_parameters
from worker_fixtures import WorkerPool, decoded_image, encoded, files_in, parse_line

HAIR = "a woman with black curly hair"
MB = 1024 * 1024
# Resident memory may move by allocator noise between requests; a leak of a working image, a latent
# history or an FD cache per request would add up to far more than this over 18 requests.
MEMORY_TOLERANCE = 20 * MB

_ids = itertools.count()


@pytest.fixture(scope="module")
def workers(cli_models, tmp_path_factory):  # noqa: F811
    pool = WorkerPool(cli_models.args(steps=STEPS), tmp_path_factory.mktemp("worker"))
    yield pool
    pool.close()


@pytest.fixture
def worker(workers):
    return workers.live()


def cure(photo, **fields) -> dict:
    return {"id": f"request-{next(_ids)}", "prompt": HAIR, "input": str(photo), **fields}


def pixels(path) -> np.ndarray:
    with PIL.Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_the_hello_line_gives_the_protocol_version_and_the_loaded_models(worker, cli_models):  # noqa: F811
    hello = worker.hello

    assert hello["protocol"] == PROTOCOL_VERSION == 1
    assert hello["models"] == {"model": str(cli_models.sd), "parser": "segformer",
                               "parser_model": str(cli_models.segformer)}
    assert hello["device"] == "cpu"
    assert hello["defaults"]["steps"] == STEPS and hello["defaults"]["detect"] is False


def test_a_cure_writes_its_output_after_progress_events_carrying_its_id(worker, tmp_path):
    photo = write_photo(tmp_path / "photo.png", seed=11)
    output = tmp_path / "cured.png"

    exchange = worker.answer(cure(photo, id="first", output=str(output)))

    reply = exchange.reply
    assert (reply["type"], reply["id"], reply["status"]) == ("result", "first", "ok"), reply
    assert reply["output"] == str(output) and reply["input"] == str(photo)
    assert [attribute["name"] for attribute in reply["attributes"]] == ["hair"]
    assert reply["seconds"] > 0 and reply["identity_similarity"] is None and isinstance(reply["warnings"], list)
    with PIL.Image.open(output) as cured:
        assert cured.size == (64, 48)
    assert read_parameters(output)["prompt"] == HAIR
    assert {(event["type"], event["id"]) for event in exchange.events} == {("progress", "first")}
    phases = list(dict.fromkeys(event["phase"] for event in exchange.events))
    assert phases == ["inversion", "foundation", "fasa"]
    last = {event["phase"]: (event["done"], event["total"]) for event in exchange.events}
    assert last["foundation"] == last["fasa"] == (STEPS, STEPS)




def test_a_worker_started_with_metadata_keep_keeps_it(cli_models, tmp_path):  # noqa: F811
    pool = WorkerPool([*cli_models.args(steps=STEPS), "--metadata", "keep"], tmp_path)
    try:
        photo = write_private_jpeg(tmp_path / "phone.jpg", size=(64, 48))
        output = tmp_path / "cured.png"
        reply = pool.live().answer(cure(photo, id="kept", output=str(output))).reply
    finally:
        pool.close()

    assert reply["status"] == "ok", reply
    with PIL.Image.open(output) as written:
        assert {"gps", "serial", "owner"} <= set(private_parts(written))

def test_a_written_output_keeps_no_gps_serial_or_owner_by_default(worker, tmp_path):
    photo = write_private_jpeg(tmp_path / "phone.jpg", size=(64, 48))
    output = tmp_path / "cured.png"

    reply = worker.answer(cure(photo, id="private", output=str(output))).reply

    assert reply["status"] == "ok", reply
    with PIL.Image.open(output) as written:
        assert private_parts(written) == [] and written.getexif()[Base.Make] == "PhoneCo"
    assert read_parameters(output)["prompt"] == HAIR

def test_without_an_output_path_the_cure_goes_next_to_the_input(worker, tmp_path):
    photo = write_photo(tmp_path / "photo.png", seed=12)

    reply = worker.answer(cure(photo)).reply

    assert reply["status"] == "ok", reply
    assert reply["output"] == str(tmp_path / "photo.cured.png") and "image_base64" not in reply
    assert (tmp_path / "photo.cured.png").is_file()


def test_a_base64_image_comes_back_as_base64_with_step_previews(worker, tmp_path):
    photo = write_photo(tmp_path / "photo.png", seed=13)

    exchange = worker.answer({"id": 7, "prompt": HAIR, "image_base64": encoded(photo), "preview": True})

    reply = exchange.reply
    assert reply["status"] == "ok" and reply["id"] == 7, reply
    assert "output" not in reply and files_in(tmp_path) == {"photo.png"}
    assert decoded_image(reply["image_base64"]).size == (64, 48)
    previews = exchange.of_type("preview")
    # Every phase's steps, once each and under its own name (issue 13: the inversion's too).
    assert [(event["phase"], event["step"]) for event in previews] == [
        (phase, step) for phase in ("inversion", "foundation", "fasa") for step in range(1, STEPS + 1)
    ]
    assert all(event["id"] == 7 for event in exchange.events)
    assert decoded_image(previews[-1]["png_base64"]).mode == "RGB"


def _small_mask(folder):
    PIL.Image.new("L", (32, 24), 255).save(folder / "mask.png")
    return str(folder / "mask.png")


def _existing_output(folder):
    (folder / "taken.png").write_bytes(b"earlier work")
    return str(folder / "taken.png")


# (name, the request's fields given the test folder and the photo, exit code, part of the message)
BAD_REQUESTS = [
    ("missing input", lambda f, p: {"input": str(f / "missing.png")}, 3, "no such file"),
    ("not an image", lambda f, p: {"input": None, "image_base64": base64.b64encode(b"hello").decode()}, 3,
     "not an image"),
    ("not base64", lambda f, p: {"input": None, "image_base64": "%%%"}, 3, "not valid base64"),
    ("input twice", lambda f, p: {"image_base64": encoded(p)}, 2, "not both"),
    ("no prompt", lambda f, p: {"prompt": None}, 2, 'needs a "prompt"'),
    ("unknown field", lambda f, p: {"ouput": str(f / "out.png")}, 2, "unknown request field(s) ouput"),
    ("unknown type", lambda f, p: {"type": "explode"}, 2, "unknown request type 'explode'"),
    ("bad setting", lambda f, p: {"options": {"steps": 0}}, 2, "steps must be at least 1"),
    ("setting of the wrong type", lambda f, p: {"options": {"steps": "many"}}, 2, "not a valid integer"),
    ("unknown option", lambda f, p: {"options": {"stepz": 3}}, 2, "stepz: unknown option"),
    ("model option", lambda f, p: {"options": {"model": "other"}}, 2, "chosen when the worker starts"),
    ("detect without a detector", lambda f, p: {"options": {"detect": True}}, 2, "--no-detect"),
    ("output exists", lambda f, p: {"output": _existing_output(f)}, 2, "already exists"),
    ("output is the input", lambda f, p: {"output": str(p), "options": {"overwrite": True}}, 2,
     "is the input image"),
    ("unknown output type", lambda f, p: {"output": str(f / "out.tiff")}, 2, '".tiff"'),
    ("mask of another size", lambda f, p: {"mask": _small_mask(f)}, 3, "painted mask is 32x24 and the photo 64x48"),
]


@pytest.mark.parametrize("name, fields, code, message", BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
def test_a_bad_request_gets_an_error_reply_and_changes_nothing(worker, tmp_path, name, fields, code, message):
    photo = write_photo(tmp_path / "photo.png", seed=14)
    request = {key: value for key, value in {**cure(photo), **fields(tmp_path, photo)}.items() if value is not None}
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}

    exchange = worker.answer(request)

    reply = exchange.reply
    assert (reply["type"], reply["id"], reply["status"], reply["exit_code"]) == (
        "result", request["id"], "error", code), reply
    assert message in reply["error"]
    assert exchange.events == []  # refused before the cure began
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before
    assert worker.process.poll() is None


@pytest.mark.parametrize("line", [b"not json", b"[1, 2]", b'"just text"', b'{"id": "cut', b"\xff\xfe{}",
                                  b'{"id": true, "prompt": "x", "input": "a.png"}'],
                         ids=["text", "array", "string", "truncated", "not utf-8", "id not text"])
def test_a_malformed_line_gets_an_error_reply_without_an_id(worker, line):
    reply = worker.answer(line).reply

    assert (reply["type"], reply["id"], reply["status"], reply["exit_code"]) == ("result", None, "error", 2), reply
    assert worker.process.poll() is None


@pytest.mark.parametrize("line, expected_id", [
    (b'{"id": "r-latin1", "prompt": "caf\xe9 au lait hair", "input": "a.png"}', "r-latin1"),
    (b'{"prompt": "caf\xe9", "id": 7, "input": "a.png"}', 7),
    (b'{"id": "r-\xe9", "prompt": "x", "input": "a.png"}', None),  # the id itself is not what the client sent
], ids=["id readable", "integer id after the bad byte", "bad byte in the id"])
def test_a_line_with_invalid_utf8_is_refused_with_its_id_when_it_can_be_read(worker, line, expected_id):
    reply = worker.answer(line).reply

    assert (reply["type"], reply["id"], reply["status"], reply["exit_code"]) == (
        "result", expected_id, "error", 2), reply
    assert "not UTF-8 text (byte 0xe9 at column" in reply["error"]


def test_a_cancel_stops_the_running_cure_and_nothing_is_written(worker, tmp_path):
    photo = write_photo(tmp_path / "photo.png", seed=17)
    output = tmp_path / "cancelled.png"
    long = cure(photo, output=str(output), options={"steps": 500})
    worker.send(long)
    first = worker.next_message()
    assert (first["type"], first["id"]) == ("progress", long["id"]), first

    worker.send({"type": "cancel", "id": "stop-it", "target": long["id"]})
    messages = []
    while not messages or messages[-1].get("id") != long["id"] or messages[-1]["type"] != "result":
        messages.append(worker.next_message())

    acknowledgement = next(message for message in messages if message.get("id") == "stop-it")
    assert acknowledgement == {"type": "result", "id": "stop-it", "status": "ok", "target": long["id"],
                               "state": "running"}
    reply = messages[-1]
    assert (reply["status"], reply["exit_code"], reply["cancelled"]) == ("error", 130, True), reply
    done = [message["done"] for message in messages if message["type"] == "progress"]
    assert max(done, default=first["done"]) < 500  # it stopped long before the end
    assert not output.exists() and files_in(tmp_path) == {"photo.png"}
    after = worker.answer(cure(photo, output=str(tmp_path / "after.png"))).reply
    assert after["status"] == "ok", after


def test_a_cancel_of_no_running_request_is_refused_and_a_malformed_one_says_why(worker):
    unknown = worker.answer({"type": "cancel", "id": "c1", "target": "nobody"}).reply
    no_target = worker.answer({"type": "cancel", "id": "c2"}).reply

    assert (unknown["id"], unknown["status"], unknown["exit_code"], unknown["target"]) == ("c1", "error", 2, "nobody")
    assert "no request 'nobody' is queued or running" in unknown["error"]
    assert (no_target["id"], no_target["status"], no_target["exit_code"]) == ("c2", "error", 2)
    assert '"target"' in no_target["error"]


def test_a_queued_request_can_be_cancelled_before_it_starts(worker, tmp_path):
    photo = write_photo(tmp_path / "photo.png", seed=18)
    running = cure(photo, output=str(tmp_path / "first.png"), options={"steps": 60})
    queued = cure(photo, output=str(tmp_path / "second.png"))
    worker.send(running)
    worker.send(queued)
    worker.send({"type": "cancel", "id": "c3", "target": queued["id"]})
    replies = {}
    while len(replies) < 3:
        message = worker.next_message()
        if message["type"] == "result":
            replies[message["id"]] = message
        else:
            assert message["id"] == running["id"], message  # the cancelled request never starts

    assert replies["c3"]["state"] == "queued"
    assert replies[running["id"]]["status"] == "ok"
    assert (replies[queued["id"]]["exit_code"], replies[queued["id"]]["cancelled"]) == (130, True)
    assert list(replies) == ["c3", running["id"], queued["id"]]  # the cancel is answered at once
    assert not (tmp_path / "second.png").exists()


def test_blank_lines_are_skipped(worker):
    worker.send(b"   ")

    reply = worker.answer({"id": "after-blank", "type": "explode"}).reply

    assert reply["id"] == "after-blank"


@pytest.mark.parametrize("how", ["path", "base64"])
def test_a_mask_painted_in_the_editor_replaces_the_computed_one(worker, tmp_path, how):
    photo = write_photo(tmp_path / "photo.png", seed=15)
    painted = np.zeros((48, 64), dtype=np.uint8)
    painted[:, 32:] = 255
    PIL.Image.fromarray(painted).save(tmp_path / "mask.png")
    mask = {"mask": str(tmp_path / "mask.png")} if how == "path" else {"mask_base64": encoded(tmp_path / "mask.png")}
    output = tmp_path / "cured.png"

    reply = worker.answer(cure(photo, output=str(output), options={"paste_feather_px": 0}, **mask)).reply

    assert reply["status"] == "ok", reply
    assert reply["mask_sources"] == {"hair": "callback"}
    # The tiny parser finds hair everywhere: without the painted mask, the whole photo would change.
    changed = np.abs(pixels(output) - pixels(photo)).max(axis=-1) > 0
    # The mask goes to the working size and back, bilinearly: its edge may soften by a pixel or two.
    assert not changed[:, :30].any() and changed[:, 32:].any()


def test_a_cure_failing_half_way_leaves_the_next_cure_as_it_would_have_been(worker, tmp_path):
    photo = write_photo(tmp_path / "photo.png", seed=16)
    before = worker.answer(cure(photo, output=str(tmp_path / "before.png"))).reply
    assert before["status"] == "ok", before

    # The foundation branch's keys and values go to the meta device, which keeps no data: the photo
    # branch fails reading them back, with every attention layer of the UNet hooked.
    failing = worker.answer(cure(photo, output=str(tmp_path / "failing.png"), options={"fd_cache_device": "meta"}))
    after = worker.answer(cure(photo, output=str(tmp_path / "after.png"))).reply

    assert failing.reply["status"] == "error" and failing.reply["exit_code"] == 1, failing.reply
    assert "foundation" in {event["phase"] for event in failing.events}
    assert not (tmp_path / "failing.png").exists()
    assert after["status"] == "ok", after
    assert (tmp_path / "after.png").read_bytes() == (tmp_path / "before.png").read_bytes()


def test_twenty_requests_in_a_row_leave_no_memory_behind(worker, tmp_path):
    # Three photos in turn, so that every request inverts its photo again (the worker keeps two).
    photos = [write_photo(tmp_path / f"photo-{index}.png", seed=30 + index) for index in range(3)]
    prompts = [HAIR, "a man with blonde hair"]
    resident = []
    for number in range(20):
        fields = {"return_base64": True} if number % 2 else {"output": str(tmp_path / "cured.png"),
                                                              "options": {"overwrite": True}}
        request = cure(photos[number % 3], prompt=prompts[number % 2], **fields)
        reply = worker.answer(request).reply
        assert reply["status"] == "ok", reply
        resident.append(worker.rss_bytes())

    growth = resident[-1] - resident[1]
    shown = ", ".join(f"{value / MB:.1f}" for value in resident)
    assert growth < MEMORY_TOLERANCE, f"resident memory after each request (MB): {shown}"


def test_shutdown_ends_the_session_and_its_stdout_held_only_protocol_lines(worker):
    # The request after the shutdown is already on the pipe when the worker reads the shutdown.
    worker.send(b'{"type": "shutdown", "id": "end"}\n{"id": "too-late", "prompt": "x", "input": "x.png"}')

    assert worker.next_message() == {"type": "bye", "id": "end", "status": "ok"}
    assert worker.close() == 0
    session = [parse_line(line) for line in worker.lines]
    assert session[0]["type"] == "hello" and session[-1]["type"] == "bye"
    assert "too-late" not in {message.get("id") for message in session}
    assert "Traceback" not in worker.stderr


def test_a_second_request_with_an_id_in_flight_is_refused_at_once_and_the_first_goes_on(worker, tmp_path):
    photo = write_photo(tmp_path / "photo.png", seed=21)
    first = cure(photo, output=str(tmp_path / "first.png"), options={"steps": 500})
    second = {**cure(photo, output=str(tmp_path / "second.png")), "id": first["id"]}
    worker.send(first)
    worker.send(second)
    worker.send({"type": "cancel", "id": "c9", "target": first["id"]})
    results = []
    while len(results) < 3:
        message = worker.next_message()
        if message["type"] == "result":
            results.append(message)

    refusal, cancel_reply, first_reply = results
    assert (refusal["id"], refusal["status"], refusal["exit_code"]) == (first["id"], "error", 2), refusal
    assert "already queued or running" in refusal["error"]
    assert cancel_reply["id"] == "c9" and cancel_reply["state"] in ("queued", "running")
    assert first_reply["cancelled"] is True          # one cancel, one request: the refused one never ran
    assert not (tmp_path / "second.png").exists()
