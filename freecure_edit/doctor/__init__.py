"""What `freecure-edit doctor` reports, as data: the system (torch, the GPU, onnxruntime, the installed
parts), the caches, which models are on disk and what `fix` would download, and the licences; offline.

- models.py: each model's status in the local caches, and the licences;
- system.py: the Python, torch, device and package versions.

A front end's data: may import models/, faces/, model_choice.py and errors.py; never the method.
"""

from __future__ import annotations


def doctor_report(hub_offline: bool) -> dict:
    """The whole report; `hub_offline` says whether the user asked for no network (HF_HUB_OFFLINE)."""
    from freecure_edit import __version__
    from freecure_edit.doctor.models import LICENCES, face_pack_for_fix, model_report
    from freecure_edit.doctor.system import system_report
    from freecure_edit.faces.packs import default_root
    from freecure_edit.models.locations import freecure_home, hub_cache_dir, sam_search_dirs

    models = model_report()
    missing = [model for model in models if model.status != "cached"]
    missing_for_fix = [model for model in missing if model.needed_by_fix]
    return {
        "version": __version__,
        "system": system_report(),
        "caches": {"huggingface": str(hub_cache_dir()), "insightface": str(default_root()),
                   "freecure_edit": str(freecure_home()), "sam_search": [str(p) for p in sam_search_dirs()]},
        "models": [model.to_dict() for model in models],
        "missing": [model.name for model in missing],
        "fix_would_download": [model.source for model in missing_for_fix if model.downloads_automatically],
        "fix_needs_by_hand": [model.name for model in missing_for_fix if not model.downloads_automatically],
        "face_pack_for_fix": face_pack_for_fix(),
        "hub_offline": hub_offline,
        "licences": [list(pair) for pair in LICENCES],
    }
