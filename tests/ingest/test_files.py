"""Reading a folder of files: each format's text and metadata, sidecars, skips and duplicates,
on the mixed corpus of tests/ingest/mixed_folder.py (made here, never downloaded)."""

import json
import shutil

import pytest

from hybridrag.errors import InputError
from hybridrag.ingest.files import content_hash, matches, read_folder
from hybridrag.jsonl import RowPolicy
from hybridrag.language import with_languages

from .mixed_folder import EXPECTED, WIND_PAGES, make_mixed_folder

ALL = ["*"]
HIDDEN = [".*", "*/.*"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_mixed_folder(tmp_path_factory.mktemp("mixed"))


@pytest.fixture(scope="module")
def read(folder):
    policy = RowPolicy("skip")
    documents = {d.doc_id: d for d in with_languages(read_folder(folder, ALL, HIDDEN, policy))}
    return documents, policy


@pytest.mark.parametrize("path", sorted(EXPECTED["documents"]))
def test_each_format_gives_its_title_author_year_and_language(read, path):
    document = read[0][path]
    assert (document.file_type, document.title, document.author, document.year,
            document.language) == EXPECTED["documents"][path]
    assert document.source_path == path and document.content_hash == content_hash(document.text)
    assert document.modified.endswith("+00:00")


def test_every_document_is_read_and_every_other_file_is_accounted_for(read):
    documents, policy = read
    assert sorted(documents) == sorted(EXPECTED["documents"])
    listed = {kind: [line.split(":")[0] for line in lines]
              for kind, lines in policy.skipped_where.items()}
    assert listed == EXPECTED["skipped"]  # the hidden folder is neither read nor counted
    assert "same text as notes/glaciers.md" in policy.skipped_where["duplicate"][0]


def test_pdf_pages_start_where_their_text_does(read):
    document = read[0]["reports/wind.pdf"]
    assert len(document.page_starts) == 3 and document.page_starts[0] == 0
    for start, page in zip(document.page_starts, WIND_PAGES, strict=True):
        assert document.text[start:].startswith(page.split()[0] + " " + page.split()[1])
    assert document.keywords == ("wind", "energy")


def test_html_keeps_the_article_and_drops_navigation_and_footer(read):
    text = read[0]["web/tides.html"].text
    assert "Rance in Brittany" in text
    assert "About us" not in text and "Copyright" not in text
    assert "like underwater wind turbines" in text  # emphasis read as words, no markup
    assert read[0]["web/tides.html"].keywords == ("tides", "ocean energy")


def test_markdown_is_text_without_markup_and_front_matter(read):
    document = read[0]["notes/glaciers.md"]
    assert "**" not in document.text and "https://" not in document.text and "---" not in document.text
    assert "internal deformation of the ice" in document.text and "meltwater" in document.text
    assert document.keywords == ("ice", "climate")


@pytest.mark.parametrize(("path", "headings", "paths"), [
    ("notes/glaciers.md", ["Glaciers", "Flow"], ["Glaciers", "Glaciers › Flow"]),  # # and ##
    ("web/tides.html", ["Tidal power", "Tidal stream"], ["Tidal power", "Tidal power › Tidal stream"]),
])
def test_sections_start_at_their_headings_with_the_heading_path(read, path, headings, paths):
    document = read[0][path]
    assert [heading_path for _, heading_path in document.sections] == paths
    assert [document.text[start:].split("\n")[0] for start, _ in document.sections] == headings
    assert read[0]["reports/wind.pdf"].sections == ()


def test_docx_reads_paragraphs_tables_and_properties(read):
    document = read[0]["notes/volcanoes.docx"]
    assert document.text.startswith("Volcanoes of the world\n\nA volcano is an opening")
    assert "Etna | Italy" in document.text and document.keywords == ("geology", "lava")


def test_text_in_another_encoding_is_decoded_and_the_sidecar_adds_metadata(read):
    document = read[0]["french/fromage.txt"]
    assert "lait coagulé" in document.text and "affiné" in document.text
    assert document.keywords == ("lait", "affinage")  # from fromage.txt.meta.json


def test_raise_policy_stops_at_the_first_bad_file_naming_it(folder):
    with pytest.raises(InputError, match=r"^reports/broken.pdf: unreadable PDF"):
        read_folder(folder, ALL, HIDDEN, RowPolicy("raise"))


def test_include_and_exclude_patterns(folder):
    only_markdown = read_folder(folder, ["*.md"], ["notes/old/*"], RowPolicy("raise"))
    assert [d.doc_id for d in only_markdown] == ["notes/glaciers.md", "notes/wald.md"]
    assert matches("a/b/c.pdf", ["*.pdf"]) and matches("a/b/c.pdf", ["a/*"])
    assert not matches("a/b/c.pdf", ["b/*"])


@pytest.mark.parametrize("sidecar,message", [
    ({"year": "2003"}, "field 'year' must be an integer, got str '2003'"),
    ({"pages": 3}, r"unknown field\(s\) \['pages'\]"),
    ("not json", "not valid JSON"),
])
def test_a_bad_sidecar_is_named(tmp_path, sidecar, message):
    (tmp_path / "a.txt").write_text("Some text about rivers and lakes.")
    (tmp_path / "a.txt.meta.json").write_text(
        sidecar if isinstance(sidecar, str) else json.dumps(sidecar))
    with pytest.raises(InputError, match=rf"^a.txt.meta.json: {message}"):
        read_folder(tmp_path, ALL, HIDDEN, RowPolicy("raise"))


def test_duplicates_ignore_layout_and_a_missing_folder_is_named(tmp_path):
    (tmp_path / "a.txt").write_text("one  two\nthree")
    (tmp_path / "b.md").write_text("one two three\n")
    policy = RowPolicy("raise")  # duplicates are counted, never errors
    assert [d.doc_id for d in read_folder(tmp_path, ALL, HIDDEN, policy)] == ["a.txt"]
    assert policy.skipped == {"duplicate": 1}
    shutil.rmtree(tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        read_folder(tmp_path, ALL, HIDDEN, policy)
