"""`freecure-edit faces INPUT`: the faces the detector finds, largest first, and which are too small.

A face is too small when its crop at the model's working size would enlarge it more than
faces.crop.UPSCALE_WARNING times: the model then invents its detail instead of keeping the photo's.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from freecure_edit.cli.failures import reported_errors
from freecure_edit.cli.quiet import quiet_libraries
from freecure_edit.cli.messages import note, warn
from freecure_edit.cli.model_options import DEFAULT_FACE_PACK


def _face_line(face: dict) -> str:
    x0, y0, x1, y1 = face["box"]
    line = (f"  {face['index']:>2}  box ({x0:g}, {y0:g}) - ({x1:g}, {y1:g})  {face['width']:g}x{face['height']:g} px  "
            f"score {face['score']:.2f}")
    if face["too_small"]:
        line += f"  too small: enlarged {face['crop_scale']:.1f}x"
    return line


def text_report(path: Path, faces: list[dict]) -> str:
    if not faces:
        return f"no face found in {path}"
    lines = [f"{len(faces)} face(s) in {path}, largest first:"]
    lines.extend(_face_line(face) for face in faces)
    return "\n".join(lines)


@click.command("faces")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--face-pack", default=DEFAULT_FACE_PACK,
              help="An insightface pack (buffalo_l, antelopev2), dlib or dlib-mmod  "
                   "[default: buffalo_l when on disk, else dlib when installed]")
@click.option("--face-root", type=click.Path(path_type=Path),
              help="The pack's folder, a folder holding it, or an insightface root  "
                   "[default: $INSIGHTFACE_HOME, else ~/.insightface]")
@click.option("--crop-size", type=click.IntRange(min=1), default=512, show_default=True,
              help="The model's working size the face is cropped to: 512 for SD 1.5, 1024 for SDXL.")
@click.option("--max-pixels", type=click.IntRange(min=0),
              help="Refuse an input with more pixels than this; 0 for no limit  [default: 100 million]")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def faces(input_path: Path, face_pack: str | None, face_root: Path | None, crop_size: int,
          max_pixels: int | None, as_json: bool, debug: bool) -> None:
    """List the faces found in the photo INPUT: index, box, score, and whether each is too small."""
    with reported_errors(debug):
        quiet_libraries(debug)
        from freecure_edit.faces import load_face_analyzer
        from freecure_edit.faces.packs import choose_face_pack
        from freecure_edit.faces.report import face_report
        from freecure_edit.imageio import load_image, pixel_limit

        loaded = load_image(input_path, max_pixels=pixel_limit(max_pixels))
        for text in loaded.warnings:
            warn(text)
        photo = loaded.rgb
        chosen = choose_face_pack(face_pack, face_root)
        if chosen.note:
            note(chosen.note)
        analyzer = load_face_analyzer(chosen.pack, root=chosen.root)
        found = [face_report(face, photo, crop_size) for face in analyzer.detect(photo)]
        if as_json:
            click.echo(json.dumps({"input": str(input_path), "faces": found}))
        else:
            click.echo(text_report(input_path, found))
