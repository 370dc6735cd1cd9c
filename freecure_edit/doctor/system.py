"""What `doctor` reports about the machine: torch and its devices, onnxruntime, the installed packages."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

# (distribution names, the first installed one is reported; what it is for; needed by every command?)
PACKAGES: tuple[tuple[tuple[str, ...], str, bool], ...] = (
    (("torch",), "the models", True),
    (("diffusers",), "the diffusion pipelines", True),
    (("transformers",), "text encoders, the SegFormer parser", True),
    (("accelerate",), "model loading, --offload", True),
    (("safetensors",), "safe checkpoint files", True),
    (("huggingface-hub", "huggingface_hub"), "the model cache", True),
    (("pillow",), "image files", True),
    (("segment-anything", "segment_anything"), "SAM mask refinement (--refine sam)", False),
    (("insightface",), "face detection and identity (the faces command)", False),
    (("onnxruntime-gpu", "onnxruntime"), "running the insightface models", False),
    (("dlib-bin", "dlib"), "the dlib face pack (--face-pack dlib)", False),
    (("face_recognition_models", "face-recognition-models"), "the dlib face pack's model files", False),
    (("opencv-python-headless", "opencv-python", "opencv-contrib-python"), "face crops", False),
)


def _installed_version(names: tuple[str, ...]) -> tuple[str, str | None]:
    for name in names:
        try:
            return name, metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return names[0], None


def packages() -> list[dict]:
    report = []
    for names, purpose, required in PACKAGES:
        name, version = _installed_version(names)
        report.append({"name": name, "version": version, "for": purpose, "required": required})
    return report


def torch_report() -> dict:
    try:
        import torch
    except ImportError:
        return {"version": None}
    from freecure_edit.models.devices import pick_device, pick_dtype

    devices = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            devices.append({"index": index, "name": torch.cuda.get_device_name(index),
                            "total_bytes": int(total), "free_bytes": int(free)})
    device = pick_device(None)
    return {
        "version": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
        "cuda_devices": devices,
        "mps_available": bool(torch.backends.mps.is_available()),
        "default_device": device.type,
        "default_dtype": str(pick_dtype(device)).removeprefix("torch."),
    }


def onnxruntime_report() -> dict:
    try:
        import onnxruntime
    except ImportError:
        return {"version": None, "providers": []}
    return {"version": onnxruntime.__version__, "providers": list(onnxruntime.get_available_providers())}


def system_report() -> dict:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch_report(),
        "onnxruntime": onnxruntime_report(),
        "packages": packages(),
    }
