"""The face packs side by side on real photos that ship in installed packages: faces found, seconds, and
the identity similarity of same-person and different-person pairs, on each pack's own scale.

    python benchmarks/face_packs.py                       # dlib, dlib-mmod, and buffalo_l if on disk
    python benchmarks/face_packs.py --packs dlib,buffalo_l --face-root ~/.insightface

Photos: scikit-image's astronaut; insightface's group photo t1.jpg (six people) and Tom Hanks crop.
Same person: the astronaut against a JPEG re-encoding (quality 75, measured at the same landmarks) and
against her mirror image (detected on it). Different: the astronaut against Tom Hanks and each face of
t1.jpg. A pack that is not installed or not on disk is reported as such and skipped.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import PIL.Image


def photos() -> dict[str, PIL.Image.Image]:
    import insightface
    from skimage import data

    images = Path(insightface.__file__).parent / "data" / "images"
    return {
        "astronaut": PIL.Image.fromarray(data.astronaut()),
        "t1.jpg": PIL.Image.open(images / "t1.jpg").convert("RGB"),
        "Tom_Hanks": PIL.Image.open(images / "Tom_Hanks_54745.png").convert("RGB"),
    }


def similarity(pack, image_a, face_a, image_b, face_b) -> float:
    """Identity similarity of two faces in two photos, on the pack's scale (ArcFace: cosine; dlib: 1 -
    embedding distance)."""
    from freecure_edit.faces.identity import cosine_similarity

    first, second = pack.embedding(image_a, face_a), pack.embedding(image_b, face_b)
    if pack.pack.startswith("dlib"):
        return 1.0 - float(np.linalg.norm(first - second))
    return cosine_similarity(first, second)


def measure(name: str, root: str | None) -> None:
    from freecure_edit.errors import ModelNotFoundError
    from freecure_edit.faces import load_face_analyzer

    try:
        pack = load_face_analyzer(name, root=root if not name.startswith("dlib") else None)
    except ModelNotFoundError as missing:
        print(f"{name}: skipped ({missing})")
        return
    images = photos()
    found = {}
    for label, image in images.items():
        started = time.perf_counter()
        faces = pack.detect(image)
        seconds = time.perf_counter() - started
        found[label] = faces
        boxes = ", ".join(f"({', '.join(f'{v:.0f}' for v in face.box)})" for face in faces)
        print(f"{name}: {label} {image.width}x{image.height}: {len(faces)} face(s) in {seconds:.2f} s: {boxes}")
    astronaut, face = images["astronaut"], found["astronaut"][0]
    buffer = io.BytesIO()
    astronaut.save(buffer, "JPEG", quality=75)
    jpeg = PIL.Image.open(buffer).convert("RGB")
    mirrored = astronaut.transpose(PIL.Image.Transpose.FLIP_LEFT_RIGHT)
    print(f"{name}: same person: JPEG q75 {similarity(pack, astronaut, face, jpeg, face):.3f}, "
          f"mirror {similarity(pack, astronaut, face, mirrored, pack.detect(mirrored)[0]):.3f}")
    others = [similarity(pack, astronaut, face, images["Tom_Hanks"], found["Tom_Hanks"][0])]
    others += [similarity(pack, astronaut, face, images["t1.jpg"], other) for other in found["t1.jpg"]]
    print(f"{name}: different people: Tom Hanks {others[0]:.3f}, t1.jpg faces "
          f"{min(others[1:]):.3f} to {max(others[1:]):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", default="dlib,dlib-mmod,buffalo_l", help="Comma-separated face packs.")
    parser.add_argument("--face-root", help="Where the insightface packs are  [default: ~/.insightface]")
    args = parser.parse_args()
    for name in args.packs.split(","):
        measure(name.strip(), args.face_root)


if __name__ == "__main__":
    main()
