"""A folder of real Markdown documentation that nobody here wrote, for the folder path's default
run: the long descriptions (README files) of the installed Python packages that publish them
as Markdown, one `<package>.md` each. The packages are pinned (requirements.txt), so the folder
is the same wherever the project is installed."""

from __future__ import annotations

import email
import os
from importlib.metadata import distributions

from hybridrag.atomic import atomic_directory

OWN_PACKAGE = "hybridrag"  # its README describes this project: left out


def package_readmes(minimum_chars: int, minimum_headings: int) -> dict[str, str]:
    """file name -> README text, for every installed package whose long description is
    Markdown with at least `minimum_chars` characters and `minimum_headings` headings."""
    found = {}
    for distribution in distributions():
        name = (distribution.metadata["Name"] or "").lower()
        text = distribution.read_text("METADATA")
        if not name or name == OWN_PACKAGE or text is None:
            continue
        message = email.message_from_string(text)
        body = message.get_payload()
        if ("markdown" in (message.get("Description-Content-Type") or "")
                and isinstance(body, str) and len(body) >= minimum_chars
                and body.count("\n#") >= minimum_headings):
            found[f"{name}.md"] = body
    return dict(sorted(found.items()))


def write_package_readmes(folder: str | os.PathLike[str], minimum_chars: int = 3000,
                          minimum_headings: int = 3) -> int:
    """Write the READMEs into `folder` (swapped in whole); returns how many."""
    readmes = package_readmes(minimum_chars, minimum_headings)
    with atomic_directory(folder) as staging:
        for name, text in readmes.items():
            (staging / name).write_text(text, encoding="utf-8")
    return len(readmes)
