"""Blocks to text and sections (Markdown and HTML share it), checked by hand."""

from hybridrag.ingest.files.html import extract_html
from hybridrag.ingest.files.sections import Block, join_blocks


def test_headings_start_sections_with_their_path_and_offsets_count_blank_lines():
    text, title, sections = join_blocks([
        Block("Intro."), Block("Guide", 1), Block("Install", 2), Block("pip install x"),
        Block("From source", 3), Block("make"), Block("Usage", 2), Block("run x")])
    assert text == "Intro.\n\nGuide\n\nInstall\n\npip install x\n\nFrom source\n\nmake\n\nUsage\n\nrun x"
    # offsets by hand: "Intro." 6 + 2 -> 8; "Guide" 5 + 2 -> 15; "Install" 7 + 2 -> 24; ...
    assert sections == ((8, "Guide"), (15, "Guide › Install"), (39, "Guide › Install › From source"),
                        (58, "Guide › Usage"))
    assert title == "Guide"


def test_an_empty_heading_starts_at_the_next_block_and_empty_blocks_are_dropped():
    text, title, sections = join_blocks([Block("A", 2), Block(""), Block("", 3), Block("x")])
    assert text == "A\n\nx" and title == "A"
    assert sections == ((0, "A"), (3, "A"))  # "" adds nothing to the path


def test_the_title_is_the_first_of_the_highest_headings():
    assert join_blocks([Block("b", 2), Block("a", 1), Block("c", 1)])[1] == "a"
    assert join_blocks([Block("no heading")])[1:] == (None, ())


PAGE = b"""<html><head><title>Guide</title></head><body><nav>Home</nav><article>
<h1>Guide</h1><p>What the tool does, in a sentence or two for the reader.</p>
<h2>Install</h2><pre><code># a comment, not a heading
pip install tool</code></pre>
<details><summary>Older versions</summary><p>Pin the version you need in requirements.</p></details>
<h3>From source</h3><ul><li>clone</li><li>make</li></ul></article></body></html>"""


def test_html_headings_start_sections_and_code_comments_do_not():
    document = extract_html(PAGE)
    paths = [path for _, path in document.sections]
    assert paths == ["Guide", "Guide › Install", "Guide › Install › From source"]
    starts = [document.text[start:].split("\n")[0] for start, _ in document.sections]
    assert starts == ["Guide", "Install", "From source"]
    assert "# a comment, not a heading\npip install tool" in document.text
    assert "Older versions" in document.text and "Home" not in document.text
