"""`freecure-edit doctor`: what this machine can run, which models are on disk, what `fix` would
download, and the licences that apply. It never touches the network, and works with nothing cached."""

from __future__ import annotations

import json
import os

import click

from freecure_edit.cli.failures import reported_errors
from freecure_edit.cli.quiet import quiet_libraries

_OFFLINE_VALUES = {"1", "true", "yes", "on"}


def _size(size_bytes: int | None) -> str:
    if size_bytes is None:
        return ""
    return f", {size_bytes / 1e9:.2f} GB" if size_bytes >= 1e8 else f", {size_bytes / 1e6:.1f} MB"


def _torch_lines(torch: dict) -> list[str]:
    if torch["version"] is None:
        return ["torch: not installed"]
    lines = [f"torch {torch['version']} (CUDA {torch['cuda_version'] or 'none'}); `fix` would run on "
             f"{torch['default_device']} in {torch['default_dtype']}"]
    for device in torch["cuda_devices"]:
        lines.append(f"  cuda:{device['index']} {device['name']}: {device['total_bytes'] / 2**30:.1f} GiB, "
                     f"{device['free_bytes'] / 2**30:.1f} GiB free")
    if not torch["cuda_available"]:
        lines.append("  no CUDA GPU" + ("; MPS is available" if torch["mps_available"] else ""))
    return lines


def text_report(report: dict) -> str:
    system = report["system"]
    lines = [f"freecure-edit {report['version']}, Python {system['python']}, {system['platform']}"]
    lines += _torch_lines(system["torch"])
    onnx = system["onnxruntime"]
    lines.append(f"onnxruntime {onnx['version']}: {', '.join(onnx['providers'])}" if onnx["version"]
                 else "onnxruntime: not installed")
    lines.append("packages:")
    for package in system["packages"]:
        version = package["version"] or ("MISSING" if package["required"] else "not installed")
        lines.append(f"  {package['name']:<24} {version:<14} {package['for']}")
    lines.append(f"models (Hugging Face cache {report['caches']['huggingface']}):")
    for model in report["models"]:
        where = f" at {model['location']}" if model["location"] else ""
        missing = f" (missing {', '.join(model['missing_files'])})" if model["missing_files"] else ""
        lines.append(f"  {model['name']}: {model['status']}{where}{_size(model['size_bytes'])}{missing}")
        lines.append(f"      used by {model['used_by']}; licence: {model['licence']}")
        if model["status"] != "cached":
            lines.append(f"      to get it: {model['how_to_get']}")
    downloads, by_hand = report["fix_would_download"], report["fix_needs_by_hand"]
    if downloads and report["hub_offline"]:
        lines.append(f"`fix` needs {', '.join(downloads)}, and HF_HUB_OFFLINE is set: it would stop with exit code 4")
    elif downloads:
        lines.append(f"`fix` with the default options would download: {', '.join(downloads)}")
    if by_hand:
        lines.append(f"`fix` with the default options needs, and never downloads: {', '.join(by_hand)} "
                     "(see 'to get it' above)")
    if not downloads and not by_hand:
        lines.append("`fix` with the default options has every model it needs")
    face_pack = report["face_pack_for_fix"]
    if face_pack["pack"] is not None:
        lines.append(f"`fix` finds faces with the {face_pack['pack']} face pack ({face_pack['why']})")
    lines.append("licences:")
    lines.extend(f"  {what}: {licence}" for what, licence in report["licences"])
    return "\n".join(lines)


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def doctor(as_json: bool, debug: bool) -> None:
    """Report torch, the GPU, onnxruntime, the installed parts, the cached models and their licences."""
    with reported_errors(debug):
        quiet_libraries(debug)
        hub_offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in _OFFLINE_VALUES
        # Nothing below asks the network, and nothing imported meanwhile should either.
        os.environ["HF_HUB_OFFLINE"] = "1"
        from freecure_edit.doctor import doctor_report

        report = doctor_report(hub_offline)
        click.echo(json.dumps(report, ensure_ascii=False) if as_json else text_report(report))
