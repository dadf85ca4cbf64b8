"""A folder of real Markdown documentation that nobody here wrote, for the folder path's default
run: the long descriptions (README files) of the Python packages that requirements.txt installs
(its pins and what they require, as installed here) and that publish them as Markdown, one
`<package>.md` each. Packages installed beside them (the benchmarks' requirements, a user's
own) are left out, so the folder is the same wherever the project is installed."""

from __future__ import annotations

import email
import os
from collections.abc import Iterable
from importlib.metadata import Distribution, distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from hybridrag.atomic import atomic_directory

OWN_PACKAGE = "hybridrag"  # its README describes this project: left out


def requirement_lines(path: str | os.PathLike[str]) -> list[str]:
    """The requirements of a pip requirements file (comments, blank lines and options left out)."""
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def installed_closure(requirements: Iterable[str], path: list[str] | None = None
                      ) -> dict[str, Distribution]:
    """The installed distributions (on `path`, by default sys.path) that `requirements` install:
    each one and, recursively, what its metadata requires (with the extras asked for, under this
    interpreter's markers); by normalised name. A requirement not installed is skipped."""
    found_on = {} if path is None else {"path": path}
    installed = {canonicalize_name(d.metadata["Name"]): d for d in distributions(**found_on)
                 if d.metadata["Name"]}
    found: dict[str, Distribution] = {}
    visited: set[tuple[str, frozenset[str]]] = set()
    queue = [Requirement(line) for line in requirements]
    while queue:
        requirement = queue.pop()
        name, extras = canonicalize_name(requirement.name), frozenset(requirement.extras)
        if (name, extras) in visited or name not in installed:
            continue
        visited.add((name, extras))
        found[name] = installed[name]
        for line in installed[name].requires or []:
            dependency = Requirement(line)
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": extra})
                                                for extra in extras | {""}):
                queue.append(dependency)
    return found


def package_readmes(requirements: Iterable[str], minimum_chars: int, minimum_headings: int
                    ) -> dict[str, str]:
    """file name -> README text, for every package that `requirements` install whose long
    description is Markdown with at least `minimum_chars` characters and `minimum_headings`
    headings."""
    found = {}
    for distribution in installed_closure(requirements).values():
        name = (distribution.metadata["Name"] or "").lower()
        text = distribution.read_text("METADATA")
        if name == OWN_PACKAGE or text is None:
            continue
        message = email.message_from_string(text)
        body = message.get_payload()
        if ("markdown" in (message.get("Description-Content-Type") or "")
                and isinstance(body, str) and len(body) >= minimum_chars
                and body.count("\n#") >= minimum_headings):
            found[f"{name}.md"] = body
    return dict(sorted(found.items()))


def write_package_readmes(folder: str | os.PathLike[str], requirements: str | os.PathLike[str],
                          minimum_chars: int = 3000, minimum_headings: int = 3) -> int:
    """Write the READMEs of what the requirements file installs into `folder` (swapped in
    whole); returns how many."""
    readmes = package_readmes(requirement_lines(requirements), minimum_chars, minimum_headings)
    with atomic_directory(folder) as staging:
        for name, text in readmes.items():
            (staging / name).write_text(text, encoding="utf-8")
    return len(readmes)
