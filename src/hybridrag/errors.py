"""The errors a user can fix (a bad params value, input row or filter): commands and stages print
them as one line and exit 2 instead of a traceback. Nothing here imports the rest of the package,
so any layer can raise them and a stage script can catch them without importing search code."""

from __future__ import annotations

import os


class ParamsError(ValueError):
    """params.yaml (or an override) names an unknown key, lacks one, or holds a bad value."""


class InputError(ValueError):
    """A problem in an input file, located by path and 1-based line number.

    `kind` is a short category ("invalid JSON", "field 'year'") used to count skipped rows.
    """

    def __init__(self, path: str | os.PathLike[str], line: int | None, message: str, kind: str):
        self.path = str(path)
        self.line = line
        self.kind = kind
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class FilterError(ValueError):
    """A filter names an unknown field or has a malformed value."""


USER_ERRORS = (InputError, ParamsError, FilterError, FileNotFoundError)
