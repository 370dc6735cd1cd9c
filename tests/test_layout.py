"""The package's layout: folders in layers, no import loops, old module paths still importing.

Read from the source (every import statement, also those inside functions), so nothing is imported to
find out what imports what.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import freecure_edit

ROOT = Path(freecure_edit.__file__).parent
PROJECT = ROOT.parent

# What each lower layer may import besides itself. The method (cure/) sits on these; api.py, the
# front-end helpers at the top level and the front ends (cli, batch, worker, service, ui, doctor,
# evaluation, toyworld) sit on the method.
LOWER_LAYERS = {
    "errors": set(),
    "schedules": set(),
    "testing": set(),
    "prompts": {"errors"},
    "models": {"errors"},
    "attention": {"errors"},
    "masks": {"errors", "prompts"},
    # `from freecure_edit import __version__` for the parameters stored in an output.
    "imageio": {"errors", "prompts", "__init__"},
    "backbones": {"errors", "models", "schedules"},
    "faces": {"errors", "imageio"},
    "inversion": {"errors", "backbones", "schedules"},
}
CURE_MAY_IMPORT = {*LOWER_LAYERS, "cure"}
# Generation mode runs the method's parts around another source of the personalized branch.
GENERATION_MAY_IMPORT = {*CURE_MAY_IMPORT, "generation"}
# The front ends that another front end may use; every other pair stays apart.
FRONT_ENDS = {"cli", "batch", "worker", "service", "ui", "doctor", "evaluation", "toyworld"}
FRONT_ENDS_USED = {
    "cli": FRONT_ENDS,
    "evaluation": {"batch", "toyworld"},
    "ui": {"service"},
    "worker": {"service"},
}
TOP_LEVEL_MODULE_LIMIT = 8


def module_files() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(PROJECT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(path: Path) -> set[str]:
    """Every dotted name an import statement in `path` names: the modules, and module.name for each
    name taken from a module (which may itself be a module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project's modules it imports."""
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in imported_names(path):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        # `from freecure_edit.x import y` names both x and x.y; the package x is only what y came from.
        graph[name] = {t for t in targets if not any(o.startswith(t + ".") for o in targets) or t == "freecure_edit"}
    return graph


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = counter[0]
                    counter[0] += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def test_no_module_imports_itself_through_others():
    assert loops(import_graph(module_files())) == []


def test_the_loop_finder_finds_a_loop():
    assert loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_lower_layers_import_only_what_lies_below_them():
    wrong = []
    for module, targets in import_graph(module_files()).items():
        layer = layer_of(module)
        allowed = {"cure": CURE_MAY_IMPORT, "generation": GENERATION_MAY_IMPORT}.get(layer, LOWER_LAYERS.get(layer))
        if allowed is None:
            continue
        wrong += [f"{module} -> {t}" for t in sorted(targets) if layer_of(t) not in allowed | {layer}]
    assert wrong == []


def test_front_ends_use_each_other_only_where_they_say_so():
    wrong = []
    for module, targets in import_graph(module_files()).items():
        layer = layer_of(module)
        if layer in FRONT_ENDS:
            allowed = FRONT_ENDS_USED.get(layer, set()) | {layer}
            wrong += [f"{module} -> {t}" for t in sorted(targets) if layer_of(t) in FRONT_ENDS - allowed]
    assert wrong == []


def test_top_level_keeps_the_entry_points_only():
    modules = sorted(path.name for path in ROOT.glob("*.py"))
    assert len(modules) <= TOP_LEVEL_MODULE_LIMIT, modules


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in ROOT.glob("*/__init__.py")))
def test_each_folder_says_what_it_is_for_and_what_it_may_import(folder):
    docstring = ast.get_docstring(ast.parse((ROOT / folder / "__init__.py").read_text()))
    assert docstring and "may import" in docstring.lower(), folder


@pytest.mark.parametrize("old, new", sorted(freecure_edit.MOVED_MODULES.items()))
def test_old_module_paths_import_the_moved_module_itself(old, new):
    moved = importlib.import_module(old)
    assert moved is importlib.import_module(new)
    assert moved.__name__ == new and moved.__spec__.name == new


def test_the_documented_old_paths_still_work():
    from freecure_edit.cure.estimate import expected_evaluations
    from freecure_edit.estimate import expected_evaluations as old_expected_evaluations
    from freecure_edit.imageio import LoadedImage, load_image
    from freecure_edit.io import LoadedImage as OldLoadedImage
    from freecure_edit.io import load_image as old_load_image

    assert (old_expected_evaluations, OldLoadedImage, old_load_image) == (expected_evaluations, LoadedImage, load_image)


def test_the_project_itself_uses_the_new_paths_only():
    """The old paths are kept for users' scripts; the project's own code, tests, benchmarks and samples
    name the new ones (import statements and dotted names in strings, as monkeypatch takes them)."""
    old_paths = tuple(freecure_edit.MOVED_MODULES)
    users = []
    files = [*ROOT.rglob("*.py"), *(PROJECT / "tests").glob("*.py"), *(PROJECT / "benchmarks").glob("*.py"),
             *(PROJECT / "samples").glob("*.py")]
    for path in files:
        if path in (ROOT / "__init__.py", Path(__file__)):
            continue
        tree = ast.parse(path.read_text())
        named = imported_names(path) | {node.value for node in ast.walk(tree)
                                        if isinstance(node, ast.Constant) and isinstance(node.value, str)}
        named |= {f"freecure_edit.{alias.name}" for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and node.module == "freecure_edit" for alias in node.names}
        users += [f"{path.relative_to(PROJECT)}: {name}" for name in sorted(named)
                  if any(name == old or name.startswith(old + ".") for old in old_paths)]
    assert users == []
