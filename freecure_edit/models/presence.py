"""Before anything loads: is every model a command needs on disk, or can the Hub still be reached?

Without this, a first run offline spends a minute in huggingface_hub's download retries (five, with
back-off) for the diffusion model, names only it, and the next run finds the parser missing. Here the
Hub ids are looked up in the local cache (nothing is downloaded), the Hub is asked once with a short
timeout only when something is not cached, and every missing model is named in one message.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from freecure_edit.errors import ModelNotFoundError

PROBE_SECONDS = 3.0
OFFLINE_HINT = ("`freecure-edit doctor` lists what is on disk and how to get each model; to try the tool without "
                "any download, use the toy world's committed models (README, 'Try it offline')")
_TRUE = {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").strip().lower() in _TRUE


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_reachable(timeout: float = PROBE_SECONDS) -> bool:
    """One HEAD request to the Hub (proxies from the environment honoured). Any HTTP answer, an error
    status included, means the network reaches it; a name that does not resolve, a refused connection or
    a timeout means it does not."""
    if hub_offline():
        return False
    try:
        urllib.request.urlopen(urllib.request.Request(hub_endpoint(), method="HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True


def looks_local(source: str) -> bool:
    """A path rather than a Hub id: it exists, or it is written as one ("./x", "/x", "~/x", "a/b/c",
    "x.safetensors"); a Hub id is "owner/name"."""
    return (Path(source).expanduser().exists() or source.startswith((".", "/", "~")) or source.count("/") > 1
            or Path(source).suffix.lower() in {".safetensors", ".ckpt", ".pt", ".pth", ".bin"})


def cached_hub_file(repo_id: str, name: str) -> str | None:
    """The local path of `name` of Hub repository `repo_id` in the Hugging Face cache, or None; reads
    the cache only. ValueError when `repo_id` is not a valid repository id."""
    from huggingface_hub import try_to_load_from_cache

    from freecure_edit.models.locations import hub_cache_dir

    found = try_to_load_from_cache(repo_id, name, cache_dir=hub_cache_dir())
    return found if isinstance(found, str) else None


def hub_model_cached(repo_id: str, marker: str) -> bool:
    """Whether `marker` (a file every copy of the repository has) is in the local Hugging Face cache."""
    try:
        return cached_hub_file(repo_id, marker) is not None
    except ValueError:  # not a valid repository id: loading will say what is wrong with it
        return True


def missing_sources(sources: list[tuple[str, str, str]], *, reachable=hub_reachable) -> list[str]:
    """Messages for the `sources` (what, Hub id or path, a file every copy of it has) that cannot be had:
    a local path that does not exist, or a Hub id neither cached nor downloadable now."""
    missing, uncached = [], []
    for what, source, marker in sources:
        if looks_local(source):
            if not Path(source).expanduser().exists():
                missing.append(f"{what} {source} does not exist")
        elif not hub_model_cached(source, marker):
            uncached.append((what, source))
    if uncached and not reachable():
        reason = "the hub is offline (HF_HUB_OFFLINE)" if hub_offline() else f"{hub_endpoint()} cannot be reached"
        for what, source in uncached:
            missing.append(f"{what} {source} is not in the Hugging Face cache and {reason} "
                           f"(`hf download {source}` where there is internet)")
    return missing


def raise_if_missing(missing: list[str]) -> None:
    if len(missing) == 1:
        raise ModelNotFoundError(f"{missing[0]}; {OFFLINE_HINT}")
    if missing:
        raise ModelNotFoundError(f"{len(missing)} models are missing: {'; '.join(missing)}. {OFFLINE_HINT}")
