"""Where each input's output goes: the input's relative path under the output folder, with the
output format's extension.

Two inputs can want the same output (a.jpg and a.png both become a.png). Then every one of them is
named after its full input name instead (a.jpg.png, a.png.png), so no output depends on which other
file happened to sort first; a name still taken after that gets -2, -3... in input order. Names are
compared without case, so a batch written on Linux does not collide when copied to macOS. An output
the prompts file names explicitly is never renamed: another input that wants it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from freecure_edit.errors import ConfigurationError
from freecure_edit.imageio.paths import output_format_for

# Names under the output folder that belong to the batch itself.
MANIFEST_NAME = "manifest.jsonl"
WORK_FOLDER_NAME = ".freecure"


@dataclass(frozen=True)
class PlannedOutput:
    path: str  # POSIX, relative to the output folder
    renamed_from: str | None = None  # the name it would have had without a collision


def natural_output(input_path: str, extension: str) -> str:
    return str(PurePosixPath(input_path).with_suffix(extension))


def check_explicit_output(path: str, where: str) -> str:
    """An output named in the prompts file, as a normalised relative path; refused when it would land
    outside the output folder, on the batch's own files, or in a format that cannot be written."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ConfigurationError(f"{where}: output {path!r} must be a path inside the output folder")
    if relative.parts[0] == WORK_FOLDER_NAME or str(relative) == MANIFEST_NAME:
        raise ConfigurationError(f"{where}: output {path!r} is one of the batch's own files")
    try:
        output_format_for(relative)
    except ConfigurationError as error:
        raise ConfigurationError(f"{where}: {error}") from None
    return str(relative)


def plan_outputs(inputs: list[str], extension: str, explicit: dict[str, str]) -> dict[str, PlannedOutput]:
    """Each input's output. `explicit` maps inputs to the outputs the prompts file gave them."""
    taken: dict[str, str] = {}  # folded output name -> the input that has it
    planned: dict[str, PlannedOutput] = {}
    for input_path, output in sorted(explicit.items()):
        other = taken.get(output.casefold())
        if other is not None:
            raise ConfigurationError(f"the prompts file gives {input_path} and {other} the same output {output}")
        taken[output.casefold()] = input_path
        planned[input_path] = PlannedOutput(output)

    wanted: dict[str, list[str]] = {}
    for input_path in inputs:
        if input_path not in explicit:
            wanted.setdefault(natural_output(input_path, extension).casefold(), []).append(input_path)
    colliding = []
    for folded, claimants in wanted.items():
        if len(claimants) == 1 and folded not in taken:
            taken[folded] = claimants[0]
            planned[claimants[0]] = PlannedOutput(natural_output(claimants[0], extension))
        else:
            colliding.extend(claimants)
    # The renamed ones come after every natural name is reserved: a.jpg.png never takes the name an
    # input called a.jpg.png would have had.
    for input_path in sorted(colliding, key=lambda path: PurePosixPath(path).parts):
        natural = natural_output(input_path, extension)
        candidate, number = f"{input_path}{extension}", 2
        while candidate.casefold() in taken:
            candidate, number = f"{input_path}-{number}{extension}", number + 1
        taken[candidate.casefold()] = input_path
        planned[input_path] = PlannedOutput(candidate, renamed_from=natural)
    return planned
