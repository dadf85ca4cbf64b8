"""Records which params.yaml values a stage script reads (tests/test_dvc_params.py).

Python imports `sitecustomize` at start-up from the first folder on its path that has one: a
test puts this folder on PYTHONPATH and names a log folder in HYBRIDRAG_PARAMS_READS before
`dvc repro`. A process running a script under `stages/` then has `hybridrag.config.load_params`
return params whose sections note every value read (attribute access, or `model_dump` of a whole
section), and writes `{"argv": ..., "reads": [dotted keys]}` to the log folder at exit. A
section's `updated` copy keeps its place in params.yaml; the values the code changed in it are
not params. Any other process, or one without the variable, is left alone.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

LOG_ENV = "HYBRIDRAG_PARAMS_READS"


def install(log_dir: Path) -> None:
    from hybridrag import config

    places: dict[int, tuple[Any, str, frozenset[str]]] = {}  # id -> (section, key, changed)
    reads: set[str] = set()
    quiet = threading.local()  # set while `updated` copies a section (its dump is no read)

    def fields(section: Any) -> dict[str, Any]:
        return {name: object.__getattribute__(section, name) for name in type(section).model_fields}

    def place(section: Any, key: str, changed: frozenset[str] = frozenset()) -> None:
        places[id(section)] = (section, key, changed)
        for name, value in fields(section).items():
            if isinstance(value, config.Section):
                place(value, f"{key}.{name}" if key else name)

    def leaves(section: Any, key: str) -> set[str]:
        found = set()
        for name, value in fields(section).items():
            child = f"{key}.{name}" if key else name
            found |= leaves(value, child) if isinstance(value, config.Section) else {child}
        return found

    def where(section: Any) -> tuple[str, frozenset[str]] | None:
        entry = places.get(id(section))
        if entry is None or entry[0] is not section or getattr(quiet, "on", False):
            return None
        return entry[1], entry[2]

    def getattribute(self: Any, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name in type(self).model_fields and not isinstance(value, config.Section):
            found = where(self)
            if found is not None and name not in found[1]:
                reads.add(f"{found[0]}.{name}" if found[0] else name)
        return value

    dump = config.Section.model_dump

    def model_dump(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = where(self)
        if found is not None:
            reads.update(leaves(self, found[0]) - {f"{found[0]}.{n}" for n in found[1]})
        return dump(self, *args, **kwargs)

    updated = config.Section.updated

    def recorded_updated(self: Any, **changes: Any) -> Any:
        found = where(self)
        quiet.on = True
        try:
            copy = updated(self, **changes)
        finally:
            quiet.on = False
        if found is not None:
            place(copy, found[0], found[1] | frozenset(changes))
        return copy

    load_params = config.load_params

    def recorded_load_params(*args: Any, **kwargs: Any) -> Any:
        params = load_params(*args, **kwargs)
        place(params, "")
        return params

    config.Section.__getattribute__ = getattribute
    config.Section.model_dump = model_dump
    config.Section.updated = recorded_updated
    config.load_params = recorded_load_params

    def write() -> None:
        if places:
            log = log_dir / f"{os.getpid()}.json"
            log.write_text(json.dumps({"argv": sys.argv, "reads": sorted(reads)}))

    atexit.register(write)


if os.environ.get(LOG_ENV) and sys.argv and Path(sys.argv[0]).parent.name == "stages":
    install(Path(os.environ[LOG_ENV]))
