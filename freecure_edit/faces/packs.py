"""Finding an insightface model pack on disk, without ever letting insightface download one.

insightface keeps packs in `<root>/models/<pack>/` with root `~/.insightface`, and fetches a missing
pack from GitHub on first use. Here a missing pack is an error the user can act on, raised before
insightface is asked for anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from freecure_edit.errors import ConfigurationError, ModelNotFoundError

DEFAULT_PACK = "buffalo_l"
# insightface itself reads no environment variable for its root; this one lets a user move it, as HF_HOME
# moves the Hugging Face cache.
ROOT_ENVIRONMENT_VARIABLE = "INSIGHTFACE_HOME"
DEFAULT_ROOT = "~/.insightface"

# The detector and recogniser each known pack holds, named in the missing-pack message.
KNOWN_PACKS = {
    "buffalo_l": ("det_10g.onnx", "w600k_r50.onnx"),
    "antelopev2": ("scrfd_10g_bnkps.onnx", "glintr100.onnx"),
}


def default_root() -> Path:
    """insightface's root: $INSIGHTFACE_HOME, else ~/.insightface."""
    return Path(os.environ.get(ROOT_ENVIRONMENT_VARIABLE) or DEFAULT_ROOT).expanduser()


def locate_pack(pack: str, root: str | os.PathLike | None = None) -> Path:
    """The folder holding the pack's ONNX files.

    Without `root`, insightface's usual place. With `root`, any of: the pack folder itself, a folder
    holding `<pack>/`, or an insightface root holding `models/<pack>/`.
    """
    if not pack or pack in (".", "..") or Path(pack).name != pack:
        raise ConfigurationError(f"insightface pack name {pack!r} is not a folder name such as {DEFAULT_PACK!r}")
    if root is None:
        candidates = [default_root() / "models" / pack]
    else:
        given = Path(root).expanduser()
        candidates = [given, given / pack, given / "models" / pack]
    for candidate in candidates:
        found = _models_in(candidate, pack)
        if found is not None:
            return found
    looked_in = candidates[-1] if root is None else Path(root).expanduser()
    raise ModelNotFoundError(missing_pack_message(pack, looked_in))


def _models_in(folder: Path, pack: str) -> Path | None:
    if _holds_models(folder):
        return folder
    # antelopev2.zip unzips into antelopev2/antelopev2/: accept it as unzipped.
    if _holds_models(folder / pack):
        return folder / pack
    return None


def _holds_models(folder: Path) -> bool:
    return folder.is_dir() and (any(folder.glob("*.onnx")) or (folder / "manifest.json").is_file())


def expected_detector(pack: str) -> str:
    """The detector file a pack should hold, for messages."""
    return KNOWN_PACKS[pack][0] if pack in KNOWN_PACKS else "an SCRFD .onnx file"


def expected_recognizer(pack: str) -> str:
    """The recogniser file a pack should hold, for messages."""
    return KNOWN_PACKS[pack][1] if pack in KNOWN_PACKS else "an ArcFace .onnx file"


def missing_pack_message(pack: str, folder: Path) -> str:
    """One line: which pack, where it was looked for, what to download and where to put it."""
    files = KNOWN_PACKS.get(pack)
    holds = f" (it holds {', '.join(files)})" if files else ""
    return (
        f"insightface pack '{pack}' not found in {folder}: download {pack_download_url(pack)} and unzip it "
        f"into {_unzip_target(pack, folder)}{holds}, or pass the folder that holds its .onnx files"
    )


def pack_download_url(pack: str) -> str:
    """Where insightface itself would fetch the pack from (the release tag changed across versions)."""
    try:
        from insightface.utils.storage import BASE_REPO_URL
    except ImportError:
        BASE_REPO_URL = "https://github.com/deepinsight/insightface/releases/download/v0.7"
    return f"{BASE_REPO_URL.rstrip('/')}/{pack}.zip"


def _unzip_target(pack: str, folder: Path) -> Path:
    return folder if folder.name == pack else folder / pack


@dataclass(frozen=True)
class FacePackChoice:
    """A face pack to load: its name, the folder to load it from (None: its usual place), and a note
    for the user when it was chosen for them."""

    pack: str
    root: Path | None = None
    note: str | None = None


def choose_face_pack(pack: str | None, root: str | os.PathLike | None = None) -> FacePackChoice:
    """The face pack to load, checked on disk.

    `pack` None is the first run's choice: insightface's DEFAULT_PACK when it is on disk (the stronger
    identity model), else the dlib pack from its installed package (`root`, an insightface location,
    does not apply to it), with a note; with neither, one error names both ways out. A named pack is only
    checked (`dlib`, `dlib-mmod`, or an insightface pack)."""
    from freecure_edit.faces.dlib_pack import DLIB_PACKS, INSTALL_HINT, SAME_PERSON_SIMILARITY, check_dlib_pack, missing_parts

    given = Path(root).expanduser() if root is not None else None
    if pack == "toy":
        return FacePackChoice(pack)  # the committed toy judges (toyworld/face_pack.py)
    if pack in DLIB_PACKS:
        check_dlib_pack(pack, given)
        return FacePackChoice(pack, given)
    if pack is not None:
        try:
            locate_pack(pack, given)
        except ModelNotFoundError as missing:
            raise ModelNotFoundError(f"{missing} (--face-root)") from None
        return FacePackChoice(pack, given)
    try:
        locate_pack(DEFAULT_PACK, given)
        return FacePackChoice(DEFAULT_PACK, given)
    except ModelNotFoundError as missing:
        if not missing_parts("dlib"):
            return FacePackChoice("dlib", None, (
                f"no insightface pack '{DEFAULT_PACK}' found, so faces are found and compared with the dlib pack "
                f"(--face-pack dlib; on its identity scale the same person is above {SAME_PERSON_SIMILARITY:g})"))
        raise ModelNotFoundError(f"no face pack: {missing} (--face-root); or install the dlib face pack: "
                                 f"{INSTALL_HINT}") from None
