"""A small real corpus of the user's kind of files, made here (never downloaded): PDFs (one of
three pages, one image-only, one encrypted, one broken), a saved web page, Markdown with and
without front matter, a Word document, French text in Windows-1252 with a metadata sidecar, a
duplicate, an unsupported file and a hidden one. `EXPECTED` says what ingest must make of it.

Run as a script to write the folder for trying the pipeline by hand:
    python -m tests.ingest.mixed_folder /tmp/mixed
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

WIND_PAGES = [
    "Wind turbines convert the kinetic energy of moving air into electricity. A modern turbine "
    "has three blades mounted on a rotor at the top of a tall steel tower. The blades are shaped "
    "like aircraft wings, so the passing wind creates lift that turns the rotor.",
    "Inside the nacelle a gearbox raises the slow rotation of the rotor to the speed the "
    "generator needs. Some designs drop the gearbox and use a large direct-drive generator with "
    "permanent magnets, which needs less maintenance offshore.",
    "Wind farms are placed where the average wind speed is high: on ridges, on open plains and "
    "at sea. Offshore farms produce more energy per turbine because the wind over water is "
    "steadier and stronger than over land.",
]
TIDES_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Tidal power</title>
<meta name="author" content="Ada Lovelace">
<meta name="keywords" content="tides, ocean energy">
<meta property="article:published_time" content="2019-05-02"></head>
<body><nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/contact">Contact</a></nav>
<article><h1>Tidal power</h1>
<p>Tidal power converts the energy of the tides into electricity. The barrage across the
estuary of the Rance in Brittany has generated power since 1966 and was for decades the
largest tidal plant in the world.</p>
<h2>Tidal stream</h2>
<p>Tidal stream generators work like <em>underwater</em> wind turbines: the flowing water turns their
rotors twice a day as the tide comes in and goes out, which makes their output predictable
years ahead.</p></article>
<footer>Copyright 2020 Example Energy Blog. All rights reserved.</footer></body></html>
"""
GLACIERS_MD = """---
title: How glaciers move
author: [Louis Agassiz, Mary Somerville]
date: 2021-03-14
tags: [ice, climate]
---
# Glaciers

A glacier is a persistent body of dense ice that moves under its own weight. It forms where
the accumulation of snow exceeds its melting over many years.

## Flow

Glaciers flow downhill by **internal deformation** of the ice and by sliding over the rock
beneath them on a thin film of [meltwater](https://example.org/meltwater).
"""
WALD_MD = """# Der Wald

Der Wald ist ein Ökosystem, in dem Bäume die vorherrschende Pflanzenform sind. Wälder
bedecken etwa ein Drittel der Landfläche der Erde und speichern große Mengen Kohlenstoff.

Im Herbst verlieren die Laubbäume ihre Blätter, während die Nadelbäume grün bleiben.
"""
FROMAGE_TXT = (
    "Le fromage est un aliment obtenu à partir du lait coagulé. On en fabrique en France plus "
    "de mille variétés, du camembert de Normandie au roquefort affiné dans les caves du "
    "Combalou. Sa fabrication comprend le caillage, l'égouttage, le salage et l'affinage, "
    "qui peut durer de quelques semaines à plusieurs années.\n")
VOLCANO_PARAGRAPHS = [
    "A volcano is an opening in the crust of a planet through which molten rock, ash and gases "
    "escape from below the surface.",
    "Most volcanoes lie along the boundaries of tectonic plates. The Pacific Ring of Fire holds "
    "about three quarters of the active volcanoes on Earth.",
]

EXPECTED = {
    "documents": {  # path -> (file type, title, author, year, language)
        "reports/wind.pdf": ("pdf", "Wind turbines", "Grace Hopper", 2015, "en"),
        "web/tides.html": ("html", "Tidal power", "Ada Lovelace", 2019, "en"),
        "notes/glaciers.md": ("markdown", "How glaciers move", "Louis Agassiz; Mary Somerville",
                              2021, "en"),
        "notes/wald.md": ("markdown", "Der Wald", None, None, "de"),
        "notes/volcanoes.docx": ("docx", "Volcanoes", "Marie Tharp", 2008, "en"),
        "french/fromage.txt": ("text", "fromage", "Jean Dupont", 2003, "fr"),
    },
    "skipped": {  # kind -> paths
        "duplicate": ["notes/old/glaciers.md"],
        "encrypted": ["reports/locked.pdf"],
        "no text": ["reports/scan.pdf"],
        "unreadable": ["reports/broken.pdf"],
        "unsupported type": ["data/table.csv"],
    },
}


def write_pdf(path: Path, pages: list[str], **info: object) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(info.pop("created", dt.datetime(2015, 3, 1, tzinfo=dt.UTC)))
    for name, value in info.items():
        getattr(pdf, f"set_{name}")(value)
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 7, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))


def write_image_pdf(path: Path) -> None:
    """A PDF whose one page is a picture: what a scan without OCR looks like."""
    from fpdf import FPDF
    from PIL import Image

    pdf = FPDF()
    pdf.set_creation_date(dt.datetime(2015, 3, 1, tzinfo=dt.UTC))
    pdf.add_page()
    pdf.image(Image.new("RGB", (60, 40), (120, 120, 120)), w=60)
    pdf.output(str(path))


def write_encrypted_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 7, "Quarterly figures, confidential.")
    pdf.output(str(path))


def write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    properties = document.core_properties
    properties.title, properties.author, properties.keywords = "Volcanoes", "Marie Tharp", "geology; lava"
    properties.created = dt.datetime(2008, 6, 1, tzinfo=dt.UTC)
    document.add_heading("Volcanoes of the world", level=1)
    for paragraph in VOLCANO_PARAGRAPHS:
        document.add_paragraph(paragraph)
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, (("Volcano", "Country"), ("Etna", "Italy")), strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.save(str(path))


def make_mixed_folder(root: Path) -> Path:
    """Write the corpus under `root` and return it."""
    for folder in ("reports", "web", "notes/old", "french", "data", ".hidden"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    write_pdf(root / "reports/wind.pdf", WIND_PAGES, title="Wind turbines", author="Grace Hopper",
              keywords="wind, energy")
    write_image_pdf(root / "reports/scan.pdf")
    write_encrypted_pdf(root / "reports/locked.pdf")
    whole = (root / "reports/wind.pdf").read_bytes()
    (root / "reports/broken.pdf").write_bytes(whole[: len(whole) // 3])  # a cut-off download
    (root / "web/tides.html").write_text(TIDES_HTML, encoding="utf-8")
    (root / "notes/glaciers.md").write_text(GLACIERS_MD, encoding="utf-8")
    (root / "notes/old/glaciers.md").write_text(GLACIERS_MD, encoding="utf-8")
    (root / "notes/wald.md").write_text(WALD_MD, encoding="utf-8")
    write_docx(root / "notes/volcanoes.docx")
    (root / "french/fromage.txt").write_bytes(FROMAGE_TXT.encode("cp1252"))
    (root / "french/fromage.txt.meta.json").write_text(
        json.dumps({"author": "Jean Dupont", "year": 2003, "keywords": ["lait", "affinage"]}))
    (root / "data/table.csv").write_text("volcano,country\nEtna,Italy\n")
    (root / ".hidden/draft.txt").write_text("A hidden draft that ingest must not read.\n")
    return root


if __name__ == "__main__":
    print(make_mixed_folder(Path(sys.argv[1])))
