"""The metadata policy (issue 29 C11): what of a photo's metadata reaches an output under keep,
strip-private (the default of every front end) and strip. Photos are made here, with the private tags
a phone or camera writes: GPS, serial numbers, owner, host computer, maker notes, XMP, a tool's text."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import ExifTags, Image

from metadata_fixtures import Base, private_parts, write_private_jpeg, write_private_png
from freecure_edit.errors import ConfigurationError
from freecure_edit.imageio import DEFAULT_METADATA, encoded_image, load_image, read_parameters, save_image

PARAMETERS = {"prompt": "red hair"}


@pytest.fixture
def private_jpeg(tmp_path: Path) -> Path:
    return write_private_jpeg(tmp_path / "phone.jpg")


@pytest.fixture
def private_png(tmp_path: Path) -> Path:
    return write_private_png(tmp_path / "tool.png")


def _written(source: Path, out: Path, policy: str) -> Image.Image:
    img = load_image(source)
    save_image(img.restore(img.rgb), out, source=img, parameters=PARAMETERS, metadata=policy)
    return Image.open(out)


def test_the_default_is_strip_private() -> None:
    assert DEFAULT_METADATA == "strip-private"


@pytest.mark.parametrize("extension", [".jpg", ".png", ".webp"])
def test_strip_private_drops_what_names_a_person_or_place_and_keeps_the_picture_facts(
        private_jpeg: Path, tmp_path: Path, extension: str) -> None:
    with _written(private_jpeg, tmp_path / f"out{extension}", "strip-private") as written:
        assert private_parts(written) == []
        exif = written.getexif()
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        assert (exif[Base.Make], exif[Base.Model], exif[Base.Copyright]) == ("PhoneCo", "P1", "(c) A. Photographer")
        assert sub[Base.DateTimeOriginal] == "2024:05:06 07:08:09"
        assert float(sub[Base.FNumber]) == pytest.approx(2.8)
    assert read_parameters(tmp_path / f"out{extension}")["prompt"] == "red hair"


def test_strip_private_drops_a_png_tools_text_and_xmp_but_keeps_its_title(private_png: Path, tmp_path: Path) -> None:
    with _written(private_png, tmp_path / "out.png", "strip-private") as written:
        assert private_parts(written) == []
        assert written.info["Title"] == "Portrait"


def test_keep_carries_everything(private_jpeg: Path, tmp_path: Path) -> None:
    with _written(private_jpeg, tmp_path / "out.jpg", "keep") as written:
        assert set(private_parts(written)) >= {"serial", "owner", "gps", "host", "xmp", "maker note"}


@pytest.mark.parametrize("source", ["private_jpeg", "private_png"])
def test_strip_keeps_only_the_colour_profile_and_dpi(source: str, request, tmp_path: Path) -> None:
    path = request.getfixturevalue(source)
    with _written(path, tmp_path / "out.png", "strip") as written:
        assert not written.getexif()
        assert set(written.info) <= {"dpi", "icc_profile"}
    assert read_parameters(tmp_path / "out.png") is None


def test_an_unknown_policy_is_refused(private_jpeg: Path, tmp_path: Path) -> None:
    img = load_image(private_jpeg)
    with pytest.raises(ConfigurationError, match="not one of keep, strip-private, strip"):
        save_image(img.restore(img.rgb), tmp_path / "out.png", source=img, metadata="private")
    assert not (tmp_path / "out.png").exists()


def test_encoded_image_is_what_save_image_writes(private_jpeg: Path, tmp_path: Path) -> None:
    img = load_image(private_jpeg)
    for policy in ("keep", "strip-private", "strip"):
        saved = save_image(img.restore(img.rgb), tmp_path / f"{policy}.png", source=img, parameters=PARAMETERS,
                           metadata=policy)
        assert encoded_image(img.restore(img.rgb), "x.png", source=img, parameters=PARAMETERS,
                             metadata=policy) == saved.read_bytes()


def test_the_command_lines_choices_are_the_librarys() -> None:
    from freecure_edit.cli.image_options import METADATA_CHOICES
    from freecure_edit.imageio import METADATA_POLICIES

    assert METADATA_CHOICES == METADATA_POLICIES


# The front ends, on a prompt that names no attribute: the photo is written back without any model, through
# the same writer a cure uses, so the policy is what is tested here and the seconds are few.
NO_ATTRIBUTE = "a portrait of a woman"


@pytest.mark.parametrize(("option", "private"), [((), False), (("--metadata", "keep"), True)])
def test_fix_strips_the_private_part_unless_asked_to_keep_it(tmp_path: Path, option, private: bool) -> None:
    from cli_fixtures import run_cli

    photo = write_private_jpeg(tmp_path / "phone.jpg")
    result = run_cli(["fix", photo, "--prompt", NO_ATTRIBUTE, "--device", "cpu", *option])

    assert result.exit_code == 0, result.stderr
    with Image.open(tmp_path / "phone.cured.png") as written:
        assert bool(private_parts(written)) is private
        assert written.getexif()[Base.Make] == "PhoneCo"


def test_batch_strips_the_private_part_and_strip_leaves_nothing(tmp_path: Path) -> None:
    from cli_fixtures import run_cli

    photos = tmp_path / "photos"
    photos.mkdir()
    write_private_jpeg(photos / "phone.jpg")
    for policy, folder in (("strip-private", "private"), ("strip", "bare")):
        result = run_cli(["batch", photos, "-o", tmp_path / folder, "--prompt", NO_ATTRIBUTE, "--device", "cpu",
                          "--metadata", policy])
        assert result.exit_code == 0, result.stderr
    with Image.open(tmp_path / "private" / "phone.png") as written:
        assert private_parts(written) == [] and written.getexif()[Base.Make] == "PhoneCo"
    with Image.open(tmp_path / "bare" / "phone.png") as written:
        assert not written.getexif() and set(written.info) <= {"dpi", "icc_profile"}


@pytest.mark.parametrize("command", ["fix", "batch", "worker", "ui"])
def test_every_front_end_offers_the_policy_with_the_same_default(command: str) -> None:
    from cli_fixtures import run_cli

    result = run_cli([command, "--help"])

    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "--metadata [keep|strip-private|strip]" in text and "[default: strip-private]" in text


@pytest.mark.parametrize("policy", ["keep", "strip-private", "strip"])
def test_the_pages_download_follows_the_pages_policy(private_jpeg: Path, policy: str) -> None:
    """The board (ui/board.py) writes a finished cure's download under the policy the page started with."""
    import io
    from types import SimpleNamespace

    from freecure_edit.cure.config import CureConfig
    from freecure_edit.service import events
    from freecure_edit.service.events import ServiceEvent
    from freecure_edit.ui.board import Board

    loaded = load_image(private_jpeg)
    board = Board(metadata=policy)
    cure = board.add_cure(board.add_photo("phone.jpg", loaded, []), "a woman with red hair")
    result = SimpleNamespace(config=CureConfig(), attributes=[], identity_similarity=None, mask_sources={})
    outcome = SimpleNamespace(image=lambda: loaded.restore(loaded.rgb), photo=loaded, result=result, warnings=[])

    board.on_event(ServiceEvent(events.DONE, cure.id, {"value": outcome}))

    with Image.open(io.BytesIO(cure.result_png)) as written:
        assert bool(private_parts(written)) is (policy == "keep")
        assert (Base.Make in written.getexif()) is (policy != "strip")
    assert (read_parameters(cure.result_png) is None) is (policy == "strip")
