"""Peak memory of the paste-back on large photos: the whole-image blend and the face paste-back.

    python benchmarks/paste_memory.py                       # 12, 48 and 100 MP
    python benchmarks/paste_memory.py --megapixels 12 --module /path/to/an/older/compose.py

Each measurement runs in a fresh process: the photo is made, the kernel's peak-RSS counter is reset
(/proc/self/clear_refs), one paste runs, and the peak RSS above the photo's own process is read
(VmHWM - VmRSS before). Cases: "empty" (nothing to paste), "face" (a face-sized mask, about 3% of the
photo), "most" (a mask over most of the photo, the worst case). Linux only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {12: (4000, 3000), 48: (8000, 6000), 100: (11544, 8660)}
CASES = ("empty", "face", "most")
PATHS = ("whole", "face_crop")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _functions(module_path: str | None):
    sys.path.insert(0, str(ROOT))
    if module_path is None:
        from freecure_edit.imageio.compose import blend_into
        from freecure_edit.faces.paste import paste_back
        return blend_into, paste_back
    spec = importlib.util.spec_from_file_location("measured", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, "blend_into", None), getattr(module, "paste_back", None)


def _child(width: int, height: int, path: str, case: str, module_path: str | None) -> dict:
    import numpy as np
    import PIL.Image
    import torch

    blend_into, paste_back = _functions(module_path)
    photo = PIL.Image.radial_gradient("L").resize((width, height)).convert("RGB")
    side = 512
    mask = torch.zeros(side * 3 // 4, side) if path == "whole" else torch.zeros(side, side)
    h, w = mask.shape
    if case == "face":
        mask[int(0.3 * h):int(0.5 * h), int(0.4 * w):int(0.55 * w)] = 1.0
    elif case == "most":
        mask[int(0.05 * h):int(0.95 * h), int(0.05 * w):int(0.95 * w)] = 1.0
    cured = PIL.Image.fromarray(np.full((h, w, 3), 200, dtype=np.uint8))
    run = None
    if path == "whole":
        run = lambda: blend_into(photo, cured, mask, 8.0)  # noqa: E731
    else:
        from freecure_edit.faces.crop import FaceCrop

        # A face crop as wide as 40% of the photo, enlarged to the working size ("most" covers it).
        scale = side / (0.4 * width)
        matrix = np.array([[scale, 0.0, -0.3 * width * scale], [0.0, scale, -0.2 * height * scale]])
        crop = FaceCrop(PIL.Image.new("RGB", (side, side)), matrix, side, None)
        cured = PIL.Image.fromarray(np.full((side, side, 3), 200, dtype=np.uint8))
        run = lambda: paste_back(photo, cured, crop, mask, 8.0)  # noqa: E731
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    result = run()
    peak = _status("VmHWM")
    assert result.size == photo.size
    return {"extra_bytes": peak - before, "photo_bytes": width * height * 3}


def _measure(megapixels: int, path: str, case: str, module_path: str | None) -> dict:
    width, height = SIZES[megapixels]
    command = [sys.executable, __file__, "--child", f"{width},{height},{path},{case}"]
    if module_path:
        command += ["--module", module_path]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=int, nargs="*", default=sorted(SIZES), choices=sorted(SIZES))
    parser.add_argument("--paths", nargs="*", default=list(PATHS), choices=PATHS)
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=CASES)
    parser.add_argument("--module", help="measure blend_into/paste_back from this file instead (e.g. an older version)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        width, height, path, case = args.child.split(",")
        print(json.dumps(_child(int(width), int(height), path, case, args.module)))
        return
    print(f"{'photo':>12} {'path':>10} {'case':>6} {'photo MB':>9} {'peak above photo MB':>20} {'x photo':>8}")
    for megapixels in args.megapixels:
        width, height = SIZES[megapixels]
        for path in args.paths:
            for case in args.cases:
                reading = _measure(megapixels, path, case, args.module)
                photo_mb = reading["photo_bytes"] / 2**20
                extra_mb = reading["extra_bytes"] / 2**20
                print(f"{width}x{height:<6} {path:>10} {case:>6} {photo_mb:9.0f} {extra_mb:20.0f} "
                      f"{extra_mb / photo_mb:8.2f}", flush=True)


if __name__ == "__main__":
    main()
