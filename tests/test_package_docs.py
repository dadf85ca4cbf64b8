"""The folder path's default folder: the installed packages' Markdown READMEs, read from their
metadata as an independent email parser reads it, this project's own left out."""

import email
from importlib.metadata import distributions

from hybridrag.package_docs import OWN_PACKAGE, package_readmes, write_package_readmes


def test_the_readmes_are_the_packages_markdown_long_descriptions():
    readmes = package_readmes(3000, 3)
    markdown = set()
    for distribution in distributions():
        message = email.message_from_string(distribution.read_text("METADATA") or "")
        if "text/markdown" in (message.get("Description-Content-Type") or ""):
            markdown.add(f"{distribution.metadata['Name'].lower()}.md")
    assert readmes and set(readmes) <= markdown
    assert f"{OWN_PACKAGE}.md" not in readmes
    assert all(len(text) >= 3000 and text.count("\n#") >= 3 for text in readmes.values())
    assert len(package_readmes(1, 1)) > len(readmes) >= len(package_readmes(6000, 10))


def test_the_folder_is_replaced_whole(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "stale.md").write_text("# left from before")
    count = write_package_readmes(folder, 10000, 20)
    assert sorted(p.name for p in folder.iterdir()) == sorted(package_readmes(10000, 20))
    assert count == len(list(folder.iterdir())) > 0
