"""The benchmark's HTML twin of a Markdown document (support/html_twin.py): the same heading
paths as the Markdown reader finds, from a file in a legacy encoding too."""

from pathlib import Path

from hybridrag.ingest.files import file_document
from hybridrag.ingest.files.markdown import extract_markdown
from support.html_twin import html_twin, shared_heading_paths

README = """# Café tools

Brewing notes.

## Grinding

Burr grinders give even grounds.

## Brewing the café

Water just off the boil.
"""


def test_the_twin_has_the_markdown_heading_paths_of_a_latin1_file(tmp_path: Path):
    (tmp_path / "README.md").write_bytes(README.encode("latin-1"))
    markdown = file_document(tmp_path, "README.md", "markdown",
                             extract_markdown((tmp_path / "README.md").read_bytes()))
    twin = html_twin(markdown, tmp_path)
    paths = [path for _, path in twin.sections]
    assert paths == [path for _, path in markdown.sections]
    assert "Café tools › Brewing the café" in paths  # decoded, not U+FFFD
    assert "Burr grinders give even grounds." in twin.text
    assert shared_heading_paths(markdown, twin) == (len(paths), len(paths), len(paths))
