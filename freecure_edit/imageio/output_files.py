"""Where a cure is written (checked before any model loads) and what the output file stores; shared by
`fix`, `batch` and the worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from freecure_edit import __version__
from freecure_edit.errors import ConfigurationError
from freecure_edit.imageio.metadata_policy import DEFAULT_METADATA
from freecure_edit.imageio.output_checks import check_writable
from freecure_edit.imageio.paths import check_output_path, default_output_path, output_format_for


class Settings(Protocol):
    """A cure's settings as this module needs them (a CureConfig): image files do not import the method."""

    def to_dict(self) -> dict[str, Any]: ...


def output_target(input_path: Path, output: Path | None, *, overwrite: bool) -> Path:
    """The output path (default INPUT-stem.cured.png next to the input), refused now if it cannot be
    written: an unknown extension, the input itself, an existing file without --overwrite, or a folder
    where no file can be made (no permission, a read-only file system)."""
    target = output if output is not None else default_output_path(input_path)
    # The path's checks first: an existing folder given as the output is named as one, not as a file
    # without an extension.
    check_output_path(target, input_path, overwrite=overwrite)
    output_format_for(target)
    check_writable(target.parent, "the output's folder")
    return target


def check_intermediates_folder(folder: Path | None) -> None:
    if folder is None:
        return
    if folder.exists() and not folder.is_dir():
        raise ConfigurationError(f"--save-intermediates {folder}: is a file, not a folder")
    check_writable(folder, "--save-intermediates")


def stored_parameters(prompt: str, config: Settings, models: dict[str, str]) -> dict[str, Any]:
    """The generation parameters embedded in the output, enough to run the same edit again. A model given
    as a local file or folder is stored by its name only: a full path would tell whoever gets the photo
    this machine's folders (and the user's name in them); a Hub id is stored as it is."""
    shared = {key: shareable(value) for key, value in models.items()}
    return {"prompt": prompt, "config": config.to_dict(), **shared, "freecure_edit_version": __version__}


def shareable(value: str) -> str:
    """A model setting as it may leave this machine: a local file or folder (what load_pipeline would read
    from disk, as it looks at the disk first) becomes its last part; anything else (a Hub id) stays."""
    path = Path(value).expanduser()
    return path.name if path.is_absolute() or path.exists() else value


def save_cured(cured, loaded, target: Path, prompt: str, config: Settings, models: dict[str, str], *,
               quality: int, overwrite: bool, metadata: str = DEFAULT_METADATA) -> Path:
    """Write the cured photo (a PIL image at the input's size) in the input's colour space, with its
    alpha, the metadata the `metadata` policy lets through (imageio.metadata_policy), and the parameters
    that made it. `config` is the one asked for, not a retry's."""
    from freecure_edit.imageio import save_image

    return save_image(loaded.restore(cured), target, source=loaded, parameters=stored_parameters(prompt, config, models),
                      quality=quality, overwrite=overwrite, metadata=metadata)
