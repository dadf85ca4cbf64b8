"""`pip install .[extra]` gives something that runs: every third-party import of the code behind
a command is declared in the core dependencies or in that command's extra; no import cycles."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from .test_dvc_deps import ROOT, closure, imported_modules, module_file

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# What each group of users runs, and the extras it is installed with.
ENTRY_POINTS = {
    "core": (["src/hybridrag/cli.py"], []),  # hybridrag search / ask (serve imports lazily)
    "serve": (["api/main.py", "src/hybridrag/service/app.py"], ["serve"]),
    "train": (sorted(str(p.relative_to(ROOT)) for p in (ROOT / "stages").glob("*.py")), ["train"]),
    "postgres": (["src/hybridrag/postgres/publish.py"], ["postgres"]),
}
# Modules a command imports only where the user asked for that feature, with the extra named
# in the error they get otherwise.
POSTGRES_CLIENT = {"psycopg", "psycopg_pool"}  # store.backend: postgres only ("hybridrag[postgres]")
OPTIONAL = {"core": {"uvicorn", "fastapi", "onnxruntime", "onnx", "dvc", "trl", "datasets",
                     "gguf", "accelerate", "bitsandbytes", "deepspeed", "dvclive", "matplotlib",
                     "chitchat_dataset"} | POSTGRES_CLIENT,
            "serve": POSTGRES_CLIENT, "train": POSTGRES_CLIENT}


def distribution(requirement: str) -> str:
    return re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def declared(extras: list[str]) -> set[str]:
    """Distributions the core and `extras` install, following extras that name others
    ("hybridrag[files]")."""
    names = {distribution(r) for r in PROJECT["dependencies"]}
    pending = list(extras)
    while pending:
        for requirement in PROJECT["optional-dependencies"][pending.pop()]:
            if distribution(requirement) == PROJECT["name"]:
                pending += re.search(r"\[(.*)\]", requirement).group(1).split(",")
            else:
                names.add(distribution(requirement))
    return names


def third_party_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("hybridrag", "api")}


def requirements_of(modules: set[str]) -> set[str]:
    """The distributions that provide these import names (and what they require)."""
    providers = importlib.metadata.packages_distributions()
    needed = set()
    for module in modules:
        assert module in providers, f"no installed distribution provides {module!r}"
        needed |= {d.lower().replace("_", "-") for d in providers[module]}
    return needed


def transitively_required(names: set[str]) -> set[str]:
    """`names` and every distribution they require, as installed here."""
    seen, pending = set(), list(names)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        pending += [distribution(r) for r in requires if "extra ==" not in r]
    return seen


@pytest.mark.parametrize("group", sorted(ENTRY_POINTS))
def test_every_import_behind_a_command_is_declared(group):
    scripts, extras = ENTRY_POINTS[group]
    files = {ROOT / s for s in scripts}
    for script in scripts:
        files |= {ROOT / f for f in closure(ROOT / script)}
    modules = set().union(*(third_party_imports(f) for f in files)) - OPTIONAL.get(group, set())
    installable = transitively_required(declared(extras))
    missing = sorted(requirements_of(modules) - installable)
    assert not missing, f"{group}: imported but not declared in pyproject ({extras or 'core'}): {missing}"


def import_graph(unit: Callable[[str], str]) -> dict[str, set[str]]:
    """Which units of src/hybridrag import which (imports inside functions included), where
    `unit` names the unit a module belongs to."""
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "src" / "hybridrag").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT / "src").with_suffix("").parts).removesuffix(".__init__")
        imported = {m for m in imported_modules(path) if m != name and
                    not (name.startswith(m + ".") and module_file(m).name == "__init__.py")}
        graph.setdefault(unit(name), set()).update(unit(m) for m in imported)
    for node, following in graph.items():
        following.discard(node)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` (its nodes in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for following in sorted(graph.get(node, ())):
            if state.get(following) == 1:
                return path[path.index(following):] + [node, following] if following in path \
                    else [node, following]
            if following not in state and (cycle := visit(following, path + [node])):
                return cycle
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [])):
            return cycle
    return None


def module_unit(name: str) -> str:
    return name


def package_unit(name: str) -> str:
    """hybridrag.search.hybrid -> search; a top-level module (hybridrag.config) is its own unit."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


@pytest.mark.parametrize("unit", [module_unit, package_unit], ids=["modules", "packages"])
def test_there_is_no_import_cycle(unit):
    cycle = find_cycle(import_graph(unit))
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_a_package_cycle_hidden_in_a_function_is_found():
    """The check sees through lazy imports: search importing postgres inside a function, while
    postgres imports search, is a cycle."""
    graph = import_graph(package_unit)
    assert "search" in graph["postgres"]
    graph["search"] = graph["search"] | {"postgres"}
    assert find_cycle(graph) in (["postgres", "search", "postgres"], ["search", "postgres", "search"])


def test_the_answer_path_never_imports_training_code():
    """`hybridrag ask` and /ask (answers, chat, service) run without sft, numeric or learning."""
    graph = import_graph(package_unit)
    reachable, pending = set(), ["answers", "chat", "service"]
    while pending:
        node = pending.pop()
        if node not in reachable:
            reachable.add(node)
            pending += sorted(graph.get(node, ()))
    assert not reachable & {"sft", "numeric", "learning"}, sorted(reachable)
