"""The folder path's default folder: the Markdown READMEs of what requirements.txt installs, read
from their metadata as an independent email parser reads it, this project's own left out."""

import email
from importlib.metadata import distributions
from pathlib import Path

from hybridrag.package_docs import (
    OWN_PACKAGE,
    installed_closure,
    package_readmes,
    requirement_lines,
    write_package_readmes,
)

ROOT = Path(__file__).resolve().parents[1]
PINNED = requirement_lines(ROOT / "requirements.txt")


def fake_distribution(site, name, requires=()):
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\n" f"Name: {name}\n" "Version: 1.0\n" +
                                   "".join(f"Requires-Dist: {r}\n" for r in requires))


def test_the_closure_follows_requirements_extras_and_markers(tmp_path):
    fake_distribution(tmp_path, "app", ["lib>=1", "plugin[fast]", 'old; python_version < "3"'])
    fake_distribution(tmp_path, "lib")
    fake_distribution(tmp_path, "plugin", ["core", 'speedup; extra == "fast"',
                                           'docs; extra == "docs"'])
    for name in ("core", "speedup", "docs", "old", "unrelated"):
        fake_distribution(tmp_path, name)
    closure = installed_closure(["app==1.0", "missing"], [str(tmp_path)])
    # app -> lib, plugin[fast] -> core and speedup; not docs (another extra), old (its marker),
    # unrelated (installed, never required), missing (required, not installed)
    assert sorted(closure) == ["app", "core", "lib", "plugin", "speedup"]
    assert sorted(installed_closure(["plugin"], [str(tmp_path)])) == ["core", "plugin"]


def test_requirement_lines_leave_out_comments_and_options(tmp_path):
    file = tmp_path / "requirements.txt"
    file.write_text("# pins\n--extra-index-url x\ntorch==2.0  # first\n\nmoto[server]==5\n")
    assert requirement_lines(file) == ["torch==2.0", "moto[server]==5"]


def test_the_readmes_are_the_packages_markdown_long_descriptions():
    readmes = package_readmes(PINNED, 3000, 3)
    markdown = set()
    for distribution in distributions():
        message = email.message_from_string(distribution.read_text("METADATA") or "")
        if "text/markdown" in (message.get("Description-Content-Type") or ""):
            markdown.add(f"{distribution.metadata['Name'].lower()}.md")
    assert readmes and set(readmes) <= markdown
    assert f"{OWN_PACKAGE}.md" not in readmes
    assert all(len(text) >= 3000 and text.count("\n#") >= 3 for text in readmes.values())
    assert len(package_readmes(PINNED, 1, 1)) > len(readmes) >= len(package_readmes(PINNED, 6000, 10))
    # only what requirements.txt installs: a pinned package's README, none of the others'
    assert "faiss-cpu.md" in readmes
    everything = package_readmes([d.metadata["Name"] for d in distributions()], 3000, 3)
    assert set(readmes) <= set(everything)
    assert set(package_readmes(["faiss-cpu"], 3000, 3)) <= {"faiss-cpu.md", "numpy.md",
                                                             "packaging.md"}


def test_the_folder_is_replaced_whole(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "stale.md").write_text("# left from before")
    count = write_package_readmes(folder, ROOT / "requirements.txt", 10000, 20)
    assert sorted(p.name for p in folder.iterdir()) == sorted(package_readmes(PINNED, 10000, 20))
    assert count == len(list(folder.iterdir())) > 0
