"""dvc.yaml's code deps cannot go stale: each stage must depend on every module of
src/hybridrag that its script can import (found statically, imports inside functions included),
and on nothing of src/hybridrag that it cannot. `python -m tests.test_dvc_deps` prints them."""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src"
PACKAGE = "hybridrag"


def module_file(name: str) -> Path | None:
    """The file that defines module `name` in src/, or None when it is not a project module."""
    base = SOURCE.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def is_type_checking_block(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING")


def imported_modules(path: Path) -> set[str]:
    """Project modules `path` imports anywhere (not under `if TYPE_CHECKING:`), with the
    packages that importing them runs."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if is_type_checking_block(node):
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] == PACKAGE:
                parts = name.split(".")
                found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1)
                             if module_file(".".join(parts[:i])) is not None)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def closure(script: Path) -> set[str]:
    """Files of src/hybridrag that running `script` can execute, as paths relative to ROOT."""
    seen: set[str] = set()
    pending = list(imported_modules(script))
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(imported_modules(module_file(name)) - seen)  # type: ignore[arg-type]
    return {module_file(name).relative_to(ROOT).as_posix() for name in seen}  # type: ignore[union-attr]


def stage_script(command: str) -> Path:
    """The stages/*.py a stage command runs (after env settings, python or torchrun options)."""
    words = [w for w in shlex.split(command) if w.startswith("stages/") and w.endswith(".py")]
    assert len(words) == 1, f"cannot tell which stage script runs in {command!r}"
    return ROOT / words[0]


def code_deps(deps: list[str]) -> set[str]:
    """The project files a list of dvc.yaml deps covers (folders expanded)."""
    covered = set()
    for dep in deps:
        path = ROOT / dep
        if path.is_dir() and dep.startswith("src/"):
            covered |= {p.relative_to(ROOT).as_posix() for p in path.rglob("*.py")}
        elif dep.startswith("src/"):
            covered.add(dep)
    return covered


def stages() -> dict[str, dict]:
    """Each stage of dvc.yaml (foreach groups by their group name) with cmd and deps."""
    defined = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in defined.items()}


def listed_deps(stage: dict) -> list[str]:
    return [d if isinstance(d, str) else next(iter(d)) for d in stage["deps"]]


def problems(stage: dict, deps: list[str]) -> tuple[list[str], list[str]]:
    """(code the stage runs that `deps` miss, code `deps` list that the stage never runs)."""
    needed, covered = closure(stage_script(stage["cmd"])), code_deps(deps)
    return sorted(needed - covered), sorted(covered - needed)


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_deps_cover_exactly_the_code_it_runs(name):
    stage = stages()[name]
    listed = listed_deps(stage)
    script = stage_script(stage["cmd"]).relative_to(ROOT).as_posix()
    assert script in listed, f"{name}: its script is not a dep"
    missing, unused = problems(stage, listed)
    assert not missing, f"{name}: dvc.yaml misses code the stage runs: {missing}"
    assert not unused, f"{name}: dvc.yaml lists code the stage never runs: {unused}"


def test_closure_follows_imports_inside_functions_and_packages():
    found = closure(ROOT / "stages" / "train_reranker.py")
    assert "src/hybridrag/learning/reranker.py" in found  # imported inside main()
    assert "src/hybridrag/learning/__init__.py" in found  # the package it lives in runs too
    assert "src/hybridrag/search/searcher.py" in found  # imported by learning/reranker.py
    assert "src/hybridrag/sft/training.py" not in found


def test_a_removed_import_dep_is_caught():
    """The check fails, naming it, when one module a stage imports is left out of its deps."""
    stage = stages()["build_db"]
    left_out = "src/hybridrag/index/vectors.py"
    deps = sorted(code_deps(listed_deps(stage)) - {left_out})
    assert problems(stage, deps) == ([left_out], [])


def compact(files: set[str]) -> list[str]:
    """Files, with every folder of src/ whose .py files are all among them named instead."""
    kept = set(files)
    for folder in sorted((SOURCE / PACKAGE).rglob("*/"), key=lambda p: len(p.parts)):
        inside = {p.relative_to(ROOT).as_posix() for p in folder.rglob("*.py")}
        if inside and inside <= files and not any(folder.as_posix().startswith(
                (ROOT / k).as_posix() + "/") for k in kept if (ROOT / k).is_dir()):
            kept = (kept - inside) | {folder.relative_to(ROOT).as_posix()}
    return sorted(kept)


if __name__ == "__main__":  # the code deps each stage needs, to paste into dvc.yaml
    for stage_name, stage in stages().items():
        script = stage_script(stage["cmd"])
        print(f"{stage_name}:\n      - {script.relative_to(ROOT).as_posix()}")
        print("\n".join(f"      - {file}" for file in compact(closure(script))))
