"""The answerability gate (CRAG-style): when a cross-encoder rates none of the retrieved sources
as likely to answer the question, the product abstains without asking the chat model and says
why. The cross-encoder is the answerability classifier choose_gate trains from the reranker
(saved beside the threshold), or else the reranker's own scores. Its threshold is chosen on
validation questions (stage choose_gate): the highest one that abstains on at most a set share
of the answerable questions."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridrag.answers.prompt import Source
from hybridrag.answers.scoring import GroundedItem, SentenceScorer

if TYPE_CHECKING:
    from hybridrag.search.rerank import Reranker

GATE_FILE = "gate.json"
CLASSIFIER_FOLDER = "answerability"  # in the gate's folder: its classifier (absent: the reranker's scores)
log = logging.getLogger("hybridrag.answers")


@dataclass(frozen=True)
class Gate:
    """Abstain when the best source's cross-encoder score is below `threshold`."""

    threshold: float
    chosen_on: str  # where the threshold was chosen, for the reason shown to users
    classifier: Reranker | None = field(default=None, compare=False)  # None: the reranker's scores

    def score(self, question: str, sources: Sequence[Source], reranked_best: float | None
              ) -> float | None:
        """What the gate compares with its threshold: its classifier's best score over the
        passages the chat model would read, or without one the best reranker score
        (`reranked_best`; None when the sources were not reranked)."""
        if self.classifier is None:
            return reranked_best
        return float(max(self.classifier.scores(question, [s.text for s in sources]),
                         default=float("-inf")))

    def decide(self, question: str, sources: Sequence[Source], reranked_best: float | None
               ) -> str | None:
        """`reason(score(...))` for less work: the classifier scores the first (best-ranked)
        source alone and, when that one passes, the question is answered without scoring the
        rest (a source at or above the threshold decides; about a third of the classifier's
        work on the questions it lets through); otherwise the rest, and the reason gives the
        best of all. The same decision as `score` up to ONNX Runtime's float noise (~1e-6),
        which a batch of one rather than three can move."""
        if self.classifier is None or not sources:
            return self.reason(self.score(question, sources, reranked_best))
        first = float(self.classifier.scores(question, [sources[0].text])[0])
        if first >= self.threshold:
            return None
        rest = self.classifier.scores(question, [s.text for s in sources[1:]])
        return self.reason(max([first, *map(float, rest)]))

    def reason(self, best_score: float | None) -> str | None:
        """Why the product abstains on a question whose best source scores `best_score` (None:
        the sources were not reranked, so the gate does not apply), or None to answer it."""
        if best_score is None or best_score >= self.threshold:
            return None
        scorer = "the reranker" if self.classifier is None else "the answerability classifier"
        return (f"no source looks like it answers the question: the best scores "
                f"{best_score:.2f} with {scorer}, below the gate's {self.threshold:.2f} "
                f"(chosen on {self.chosen_on})")

    @classmethod
    def load(cls, folder: str | os.PathLike[str], required: bool = True, device: str = "auto"
             ) -> Gate | None:
        """The gate saved in `folder` by choose_gate, with its classifier when it has one;
        None when it chose none (gate off). A missing gate is an error when `required` (a
        stage), else a warning and no gate (the CLI and the service answer without it)."""
        path = Path(folder) / GATE_FILE
        if not path.is_file():
            missing = f"no answerability gate at {path}; run `dvc repro choose_gate`"
            if required:
                raise FileNotFoundError(missing)
            log.warning("%s; answering without it", missing)
            return None
        saved = json.loads(path.read_text())
        if saved.get("threshold") is None:
            return None
        classifier = None
        if (Path(folder) / CLASSIFIER_FOLDER).is_dir():
            from hybridrag.search.rerank import Reranker

            classifier = Reranker.load(Path(folder) / CLASSIFIER_FOLDER, device)
        return cls(float(saved["threshold"]), saved["chosen_on"], classifier)


def threshold_for_answerable(scores: Sequence[float], max_false_abstention: float) -> float | None:
    """The highest of `scores` under which at most `max_false_abstention` of them fall (None
    without scores): a threshold that turns away at most that share of answerable questions."""
    ordered = sorted(scores)
    if not ordered:
        return None
    return ordered[min(int(max_false_abstention * len(ordered)), len(ordered) - 1)]


def choose_threshold(answerable: Sequence[float], unanswerable: Sequence[float],
                     max_false_abstention: float) -> float | None:
    """`threshold_for_answerable` of the answerable items' scores: the highest threshold that
    turns away at most `max_false_abstention` of them, so it abstains on the most unanswerable
    items that the cap allows. None when there is no score to choose from or it would catch no
    unanswerable one."""
    if not unanswerable:
        return None
    best = threshold_for_answerable(answerable, max_false_abstention)
    if best is None or not any(u < best for u in unanswerable):
        return None
    return best


def abstention_rates(answerable_gated: Sequence[bool], unanswerable_gated: Sequence[bool]
                     ) -> dict[str, float | None]:
    """What a gate did, from which items it turned away: abstention recall (unanswerable items
    turned away), precision (turned-away items that are unanswerable) and false abstention
    (answerable items turned away)."""
    caught, wrong = sum(unanswerable_gated), sum(answerable_gated)
    return {"abstention_recall": (round(caught / len(unanswerable_gated), 4)
                                  if unanswerable_gated else None),
            "abstention_precision": round(caught / (caught + wrong), 4) if caught + wrong else None,
            "false_abstention": (round(wrong / len(answerable_gated), 4)
                                 if answerable_gated else None)}


def gate_rates(answerable: Sequence[float], unanswerable: Sequence[float],
               threshold: float | None) -> dict[str, Any]:
    """`abstention_rates` of the threshold on scored items."""
    if threshold is None:
        return {"threshold": None, "answerable": len(answerable), "unanswerable": len(unanswerable)}
    return {"threshold": threshold, "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            **abstention_rates([a < threshold for a in answerable],
                               [u < threshold for u in unanswerable])}


REPORTED_CAPS = (0.05, 0.1, 0.15, 0.2)  # false-abstention caps the metrics give the recall at


def recall_at_caps(answerable: Sequence[float], unanswerable: Sequence[float],
                   caps: Sequence[float] = REPORTED_CAPS) -> dict[str, float]:
    """The share of unanswerable items a threshold chosen under each false-abstention cap turns
    away (0 where no threshold catches any): how the scorer trades recall for false abstention."""
    curve = {}
    for cap in caps:
        threshold = choose_threshold(answerable, unanswerable, cap)
        caught = 0 if threshold is None else sum(u < threshold for u in unanswerable)
        curve[f"{cap:g}"] = round(caught / len(unanswerable), 4) if unanswerable else 0.0
    return curve


def best_source_scores(items: Sequence[GroundedItem], score: SentenceScorer) -> list[float]:
    """Each item's best cross-encoder score among its sources (what the gate compares)."""
    return [float(max(score(item.question, [s.text for s in item.sources]), default=float("-inf")))
            for item in items]


def choose_gate(items: Sequence[GroundedItem], kinds: Sequence[str], scores: Sequence[float],
                max_false_abstention: float, chosen_on: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The gate chosen on validation `items` (answerable against not) from their
    `best_source_scores`, as saved for the product, and its validation rates overall, by kind
    (share of each kind's items it turns away) and at other false-abstention caps
    (`recall_at_caps`)."""
    answerable = [s for s, item in zip(scores, items, strict=True) if item.answerable]
    unanswerable = [s for s, item in zip(scores, items, strict=True) if not item.answerable]
    threshold = choose_threshold(answerable, unanswerable, max_false_abstention)
    by_kind: dict[str, list[float]] = {}
    for value, kind in zip(scores, kinds, strict=True):
        by_kind.setdefault(kind, []).append(value)
    gated = {kind: (round(sum(v < threshold for v in values) / len(values), 4)
                    if threshold is not None else 0.0) for kind, values in sorted(by_kind.items())}
    saved = {"threshold": threshold, "chosen_on": chosen_on,
             "max_false_abstention": max_false_abstention}
    return saved, {**gate_rates(answerable, unanswerable, threshold), "chosen_on": chosen_on,
                   "gated_by_kind": gated,
                   "abstention_recall_by_max_false_abstention": recall_at_caps(answerable,
                                                                               unanswerable)}
