"""What SAM refinement adds to a cure: segment-anything's vit_b at full size, random weights, this CPU.

    python benchmarks/sam.py [--variant vit_b] [--attributes 3]

The image encoder (1024 px, once per image) is the cost; each attribute then adds one prompt-decoder
call. Random weights cost what trained ones do, so the seconds are real even though the masks are not.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=["vit_b", "vit_l", "vit_h"], default="vit_b")
    parser.add_argument("--attributes", type=int, default=3)
    args = parser.parse_args()

    import PIL.Image
    import skimage.data
    import torch
    from segment_anything import sam_model_registry

    from common import machine_line, peak_memory_mib
    from freecure_edit.masks import SamRefiner

    torch.manual_seed(0)
    sam = sam_model_registry[args.variant](checkpoint=None)
    refiner = SamRefiner(sam, device="cpu")
    photo = PIL.Image.fromarray(skimage.data.astronaut())
    regions = []
    for index in range(args.attributes):
        region = torch.zeros(512, 512)
        region[40 + 60 * index: 100 + 60 * index, 160:300] = 1
        regions.append(region)

    started = time.perf_counter()
    refiner.refine(photo, region=regions[0])
    first = time.perf_counter() - started
    others = []
    for region in regions[1:]:
        started = time.perf_counter()
        refiner.refine(photo, region=region)
        others.append(time.perf_counter() - started)
    per_attribute = sum(others) / len(others) if others else float("nan")
    print(f"SAM {args.variant}, 512x512 photo, {args.attributes} attributes; {machine_line()}")
    print(f"  first attribute (image encoder + decoder): {first:.2f} s")
    print(f"  each further attribute (decoder only):     {per_attribute:.3f} s")
    print(f"  total for {args.attributes} attributes:              {first + sum(others):.2f} s; peak {peak_memory_mib():.0f} MiB")


if __name__ == "__main__":
    main()
