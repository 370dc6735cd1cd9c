"""Cost of the real-photo wrapping (detection, crop and alignment, paste-back, identity) on a large photo,
against the cure itself.

    python benchmarks/faces.py                 # 4000x3000 upscale of the astronaut, SD 1.5 size crops

The detector and recogniser are the tiny constant ONNX models of the test suite, loaded through
insightface's own routing: their network cost is not that of SCRFD-10G or ArcFace-R50, so the
detection and identity rows measure insightface's pre- and post-processing on a 12-megapixel photo,
not the networks. Crop, alignment and paste-back are the real operations at full size. The share is
taken against the denoiser cost of a default cure at 50 steps (6N + 2 evaluations) of an SD 1.5-size
UNet at 512 px, with the seconds per evaluation measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def timed(function, repeats: int = 3):
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        value = function()
        timings.append(time.perf_counter() - started)
    return sorted(timings)[len(timings) // 2], value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--crop", type=int, default=512)
    parser.add_argument("--skip-unet", action="store_true", help="do not time an SD 1.5-size UNet evaluation")
    args = parser.parse_args()

    import PIL.Image
    import torch

    from common import machine_line, seconds_per_evaluation, sd15_sized_pipeline
    from face_fixtures import ASTRONAUT_FACE, astronaut, write_pack
    from freecure_edit.faces import crop_face, load_face_analyzer, paste_back

    photo = astronaut().resize((args.width, args.height), PIL.Image.LANCZOS)
    # The detector's outputs are constant: it finds one face, wherever its boxes land on this photo.
    with tempfile.TemporaryDirectory() as folder:
        pack = write_pack(Path(folder) / "buffalo_l", [ASTRONAUT_FACE])
        analyzer = load_face_analyzer("buffalo_l", root=pack, providers=["CPUExecutionProvider"])
        detect_s, faces = timed(lambda: analyzer.detect(photo))
        face = faces[0]
        crop_s, crop = timed(lambda: crop_face(photo, face, size=args.crop))
        mask = torch.zeros(args.crop, args.crop)
        mask[args.crop // 8: args.crop * 5 // 8, args.crop // 4: args.crop * 3 // 4] = 1
        cured = crop.image.transpose(PIL.Image.FLIP_LEFT_RIGHT)
        paste_s, pasted = timed(lambda: paste_back(photo, cured, crop, mask, feather_px=8.0))
        identity_s, _ = timed(lambda: analyzer.identity_similarity(photo, pasted, face))

    fixed = detect_s + crop_s + paste_s + identity_s
    print(f"faces: {args.width}x{args.height} photo, {args.crop}px crop; {machine_line()}")
    for name, seconds in [("detection (tiny ONNX net)", detect_s), ("crop + roll alignment", crop_s),
                          ("paste-back (warp + feather + blend)", paste_s), ("identity (tiny ONNX net)", identity_s),
                          ("total fixed", fixed)]:
        print(f"  {name:<38}{seconds:>8.3f} s")
    if args.skip_unet:
        return
    pipe = sd15_sized_pipeline()
    from freecure_edit.backbones import backbone_for

    backbone = backbone_for(pipe)
    latent = (1, 4, args.crop // 8, args.crop // 8)
    per_eval = seconds_per_evaluation(backbone, latent, batch=2, repeats=1)
    cure_seconds = (6 * 50 + 2) * per_eval
    print(f"  SD 1.5-size UNet at {args.crop}px: {per_eval:.2f} s per evaluation (batch 2); default cure at "
          f"50 steps = {6 * 50 + 2} evaluations = {cure_seconds:.0f} s")
    print(f"  share of the face wrapping: {100 * fixed / (fixed + cure_seconds):.2f}%")


if __name__ == "__main__":
    main()
