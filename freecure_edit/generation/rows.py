"""Many generations from one file: rows of a reference image, a prompt, and optionally a seed and an output.

CSV with a header row, or JSONL (one object per line):

    id_image,prompt,seed,output
    alice.jpg,"a photo of a woman with red curly hair",3,alice-red.png
    alice.jpg,"a photo of a woman, smiling",,
    bob.png,"a photo of a man, round glasses",7,

`id_image` is relative to the file's folder (or absolute); `output` is relative to the output folder, and
by default `<id_image stem>-<row>-seed<seed>.png`. The same reference may appear on many rows (one
reference, many prompts is the usual use). Every row is checked before a model loads: a missing
reference, an unknown column, a seed that is not a whole number, two rows writing the same output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from freecure_edit.errors import ConfigurationError
from freecure_edit.prompts.records import read_records

COLUMNS = ("id_image", "prompt", "seed", "output")
REQUIRED = ("id_image", "prompt")


@dataclass(frozen=True)
class GenerationRow:
    id_image: Path
    prompt: str
    seed: int
    output: Path  # relative to the output folder
    where: str  # "rows.csv line 3", for messages


def read_generation_rows(path: Path, default_seed: int = 0) -> list[GenerationRow]:
    rows, outputs = [], {}
    for number, (where, record) in enumerate(read_records(path), start=1):
        record = {key: value for key, value in record.items() if value not in (None, "")}
        unknown = [key for key in record if key not in COLUMNS]
        if unknown:
            raise ConfigurationError(f"{where}: unknown column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}")
        row = _row(path.parent, where, record, number, default_seed)
        key = row.output.as_posix().lower()
        if key in outputs:
            raise ConfigurationError(f"{where}: writes {row.output}, as {outputs[key]} does")
        outputs[key] = where
        rows.append(row)
    if not rows:
        raise ConfigurationError(f"--prompts {path}: no rows")
    return rows


def _row(folder: Path, where: str, record: dict, number: int, default_seed: int) -> GenerationRow:
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise ConfigurationError(f"{where}: no {' and no '.join(missing)}")
    reference = Path(str(record["id_image"])).expanduser()
    reference = reference if reference.is_absolute() else folder / reference
    if not reference.is_file():
        raise ConfigurationError(f"{where}: the reference {reference} does not exist")
    try:
        seed = int(record.get("seed", default_seed))
    except (TypeError, ValueError):
        raise ConfigurationError(f"{where}: seed {record.get('seed')!r} is not a whole number") from None
    output = Path(str(record.get("output", f"{reference.stem}-{number:03d}-seed{seed}.png")))
    if output.is_absolute() or ".." in output.parts:
        raise ConfigurationError(f"{where}: output {output} must stay inside the output folder")
    return GenerationRow(reference, str(record["prompt"]), seed, output, where)
