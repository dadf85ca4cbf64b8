"""The answerability gate's threshold for one index, chosen on that index's own section headings.

choose_gate picks its threshold on SQuAD questions over Wikipedia paragraphs; on other writing
(a folder of software documentation) the classifier's scores of answerable questions run lower
and that threshold turns away many questions the sources answer. A document's section heading
("Installation", "Load configuration without altering the environment") asked of the section it
heads is a question the index answers, and every structured document brings its own, without
labels. The index's threshold follows choose_gate's rule on them: the highest one that turns
away at most the configured share (answers.gate_max_false_abstention) of those heading
questions. It is saved in the index folder (`index_gate.json`) with a fingerprint of the gate it
was chosen for, and `for_index` applies it to questions asked of that index."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from hybridrag.answers.gate import GATE_FILE, Gate, threshold_for_answerable
from hybridrag.atomic import atomic_write_text
from hybridrag.index import DATABASE
from hybridrag.index.database import connect_readonly
from hybridrag.records import SECTION_SEPARATOR

INDEX_GATE_FILE = "index_gate.json"  # in an index folder: the gate's threshold for that index
log = logging.getLogger("hybridrag.answers")


def section_questions(index: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Each section of the index's documents that has text under its heading, as (the heading,
    the text of its first chunk): the last heading of the chunk's section path, in document and
    position order. A heading with nothing under it (a title above its subsections) answers
    nothing and is left out."""
    with closing(connect_readonly(Path(index) / DATABASE)) as connection:
        rows = connection.execute("SELECT doc_id, section, text FROM chunks "
                                  "WHERE section IS NOT NULL ORDER BY doc_id, position").fetchall()
    seen: set[tuple[str, str]] = set()
    questions = []
    for row in rows:
        if (row["doc_id"], row["section"]) in seen:
            continue
        seen.add((row["doc_id"], row["section"]))
        heading = row["section"].split(SECTION_SEPARATOR)[-1].strip()
        if heading and row["text"].strip() != heading:
            questions.append((heading, row["text"]))
    return questions


def evenly_spread(items: Sequence[Any], limit: int | None) -> list[Any]:
    """At most `limit` of `items`, spread evenly over them in their order (all with None)."""
    if limit is None or len(items) <= limit:
        return list(items)
    return [items[i * len(items) // limit] for i in range(limit)]


def gate_fingerprint(gate_folder: str | os.PathLike[str]) -> str:
    """What identifies the gate an index's threshold was chosen for: its saved choice's hash."""
    return hashlib.sha256((Path(gate_folder) / GATE_FILE).read_bytes()).hexdigest()


def calibrate_index_gate(gate: Gate | None, gate_folder: str | os.PathLike[str],
                         index: str | os.PathLike[str], trim: Callable[[str], str],
                         max_false_abstention: float, max_sections: int | None = None,
                         progress: bool = True) -> dict[str, Any]:
    """Choose `index`'s threshold on its `section_questions`, at most `max_sections` of them
    spread evenly (each heading scored by the gate's classifier against its section's first
    chunk as `trim` cuts sources) and save it there.
    Nothing is saved (the gate keeps choose_gate's threshold) when the gate is off, scores
    with the reranker (no classifier) or the index has no sections; the record says why."""
    target = Path(index) / INDEX_GATE_FILE
    target.unlink(missing_ok=True)
    questions = section_questions(index)
    if gate is None or gate.classifier is None or not questions:
        why = ("the gate is off" if gate is None else
               "the gate scores with the reranker, not a classifier" if gate.classifier is None
               else "the index has no sections (Markdown or HTML headings)")
        return {"threshold": None, "sections": len(questions),
                "note": f"choose_gate's threshold is kept: {why}"}
    scored = evenly_spread(questions, max_sections)
    scores = [float(gate.classifier.scores(heading, [trim(text)])[0])
              for heading, text in tqdm(scored, desc="gate", unit="section", disable=not progress)]
    threshold = threshold_for_answerable(scores, max_false_abstention)
    spread = f" (spread evenly over its {len(questions)})" if len(scored) < len(questions) else ""
    record = {"threshold": threshold,
              "chosen_on": (f"{len(scored)} section headings of this index{spread}, each asked "
                            "of its own section"),
              "max_false_abstention": max_false_abstention, "sections": len(questions),
              "scored": len(scored),
              "choose_gate_threshold": gate.threshold, "gate": gate_fingerprint(gate_folder)}
    atomic_write_text(target, json.dumps(record, indent=2) + "\n")
    return record


def for_index(gate: Gate | None, gate_folder: str | os.PathLike[str] | None,
              index: str | os.PathLike[str]) -> Gate | None:
    """`gate` (loaded from `gate_folder`) with `index`'s own threshold when that index has one
    chosen for this gate; one chosen for another gate is ignored, with a warning."""
    path = Path(index) / INDEX_GATE_FILE
    if gate is None or gate_folder is None or not path.is_file():
        return gate
    saved = json.loads(path.read_text())
    if saved["gate"] != gate_fingerprint(gate_folder):
        log.warning("%s was chosen for another answerability gate than %s; using the gate's own "
                    "threshold (rebuild the index: `dvc repro index_folder`)", path, gate_folder)
        return gate
    return replace(gate, threshold=float(saved["threshold"]), chosen_on=saved["chosen_on"])


def load_gate(gate_folder: str | os.PathLike[str], index: str | os.PathLike[str],
              required: bool = True, device: str = "auto") -> Gate | None:
    """`Gate.load(gate_folder)` `for_index(index)`."""
    return for_index(Gate.load(gate_folder, required, device), gate_folder, index)
