"""reports/sft_results.md and its plots: the comparison table, paired differences against the
base model, loss curves (SFT), reward margins (DPO) and sample answers beside their sources."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from hybridrag.answers.scoring import EXTRACTIVE
from hybridrag.atomic import atomic_write_text
from hybridrag.config import AnswersParams, SftParams
from hybridrag.reporting import markdown_table, save_line_plot
from hybridrag.sft.compare import BASELINE, PRODUCT, READING_METRICS, HeldOut, ModelAnswers

READING_COLUMNS = ("overall_f1", "f1", "exact_match")  # shown when the items are reading ones
ANSWER_COLUMNS = ("questions", "items", "cites_relevant", "cites_relevant_not_first", "cites_first",
                  "cites_relevant_evidence", "cites_wrong", "names_title", "abstains_unanswerable",
                  "false_abstention", "well_formed", "stopped", "rouge_l", "reply_words")
LOSS_COLUMNS = ("loss", "perplexity")
TRAINING_COLUMNS = ("train_seconds", "tokens_per_second", "peak_memory_mb", "trainable_parameters")
CONVERSATION_COLUMNS = ("questions", "rouge_l", "reply_words", "stopped")


def curves(live_root: Path, runs: list[str], metric: str) -> dict[str, dict[int, float]]:
    """Per-step values of a train metric (e.g. loss, rewards/margins) from each run's DVCLive TSV."""
    found = {}
    for name in runs:
        tsv = live_root / name / "plots" / "metrics" / "train" / f"{metric}.tsv"
        if tsv.is_file():
            with tsv.open() as handle:
                found[name] = {int(row["step"]): float(row[metric.rsplit("/", 1)[-1]])
                               for row in csv.DictReader(handle, delimiter="\t")}
    return found


def plot_curves(path: Path, series: dict[str, dict[int, float]], title: str, ylabel: str) -> None:
    steps = sorted({step for points in series.values() for step in points})
    save_line_plot(path, steps, {name: [points.get(s, float("nan")) for s in steps]
                                 for name, points in series.items()}, title, "step", ylabel)


def one_line(text: str) -> str:
    return " ".join(text.split()) or "(empty)"


def paired_table(results: dict[str, Any], against: str = "base", label: str | None = None
                 ) -> str:
    """Each model's paired differences against `against` (base; extractive: vs_extractive;
    best: vs_best), that model called `label` in the header (default: `against`)."""
    rows = []
    for name, values in results.items():
        for metric, found in (values.get(f"vs_{against}") or {}).items():
            if found is not None:
                low, high = found["ci95"]
                rows.append([name, metric, f"{found['difference']:+.3f}", f"[{low:+.3f}, {high:+.3f}]",
                             found["items"]])
    return markdown_table(["model", "metric", f"model - {label or against}", "95% bootstrap CI",
                           "items"], rows)


def separation_sentence(results: dict[str, Any], best: str, metric: str) -> str:
    """Which methods the best one is ahead of on `metric` with an interval that excludes zero,
    and which it is not separated from."""
    ahead, level = [], []
    for name, values in results.items():
        found = (values.get("vs_best") or {}).get(metric)
        if found is not None:
            (ahead if found["ci95"][1] < 0 else level).append(
                f"{name} ({found['difference']:+.3f} [{found['ci95'][0]:+.3f}, "
                f"{found['ci95'][1]:+.3f}])")
    label = metric.replace("_", "-")
    if not ahead and not level:
        return f"No other trained model to compare `{best}` with."
    parts = []
    if ahead:
        parts.append(f"`{best}` reads better on {label} than {', '.join(ahead)}: each "
                     "interval excludes zero")
    if level:
        parts.append(f"it is not separated from {', '.join(level)}: each interval holds zero, so "
                     "on these questions the ranking between them is not settled")
    return "; ".join(parts) + "."


def sample_rows(answered: dict[str, ModelAnswers], data: HeldOut, count: int
                ) -> list[dict[str, Any]]:
    """The first `count` questions and their no-answer variants: sources, reference, and every
    model's reply (marked when it did not stop)."""
    rows = []
    for index in data.first(count):
        item = data.items[index]
        replies = {}
        for name, model in answered.items():
            if index in model.indices:
                position = model.indices.index(index)
                mark = "" if model.scores[position].stopped else " (did not stop)"
                replies[name] = one_line(model.replies[position]) + mark
        rows.append({"question": item.question, "answerable": item.answerable,
                     "reference": item.reference, "replies": replies,
                     "sources": [{"number": s.number, "title": s.title, "text": s.text,
                                  "relevant": s.number in item.relevant} for s in item.sources]})
    return rows


def samples_section(samples: list[dict[str, Any]]) -> list[str]:
    lines = []
    for sample in samples:
        label = "answerable" if sample["answerable"] else "no relevant source"
        lines += [f"**{sample['question']}** ({label}; reference: {sample['reference']})", ""]
        lines += [f"> [{s['number']}] *{s['title']}*: {one_line(s['text'])}"
                  for s in sample["sources"]] + [""]
        lines += [f"- **{name}**: {reply}" for name, reply in sample["replies"].items()] + [""]
    return lines


def best_sentence(name: str, scores: dict[str, tuple[float, float]], default: str,
                  questions: int, metric: str = "cites_relevant") -> str:
    """Which model is best on `metric` over the shared questions, naming ties (broken by
    well-formed replies) and where the product's default stands."""
    label = metric.replace("_", "-")
    tied = [m for m, (cites, _) in scores.items() if m != name and cites == scores[name][0]]
    tie = (f" (tied on {label} with {', '.join(tied)}; ties go to well-formed replies)"
           if tied else "")
    if name == default:
        verdict = "the product's default"
    elif default in tied:
        verdict = f"tied by the product's default (`{default}`)"
    else:
        verdict = f"**not** the product's default (`{default}`)"
    shares = ", ".join(f"{m} {cites:.3f} ({formed:.3f})" for m, (cites, formed) in scores.items())
    return (f"Best on {label} over the first {questions} questions (every model answered "
            f"them): **{name}**{tie}, {verdict}. {label[:1].upper() + label[1:]} there "
            f"(well-formed): {shares}.")


def product_sentence(answers: AnswersParams) -> str:
    """What the `product` row is."""
    gate = ("the answerability gate (choose_gate's threshold on its classifier's best source "
            "score) abstains without the model's reply" if answers.gate and answers.rerank
            else "no answerability gate (answers.gate or answers.rerank is off)")
    fallback = ("a model abstention is replaced by the extractive answer"
                if answers.on_model_abstention == "extractive"
                else "a model abstention is shown as it is")
    read = (f"it reads the best {answers.sources} of a question's sources by the reranker, as it "
            f"reads the best retrieved ones (answers.sources; over more given sources "
            f"`{answers.chat_model}` answers again, its citations numbered as the sources are listed)")
    return (f"`{PRODUCT}`: `{answers.chat_model}` as `hybridrag ask` answers with it: {read}; "
            f"{gate}; {'citations move to the evidence (answers.attribute); ' if answers.attribute else ''}"
            f"{fallback} (answers.on_model_abstention: {answers.on_model_abstention}).")


def write_report(path: Path, results: dict[str, Any], samples: list[dict[str, Any]],
                 data: HeldOut | None, params: SftParams, answers: AnswersParams,
                 best: tuple[str, dict[str, tuple[float, float]]] | None,
                 rag_loop: dict[str, Any] | None = None) -> None:
    grounded = data is not None
    reading = grounded and data.reading
    answer_columns = (*READING_COLUMNS, *ANSWER_COLUMNS) if reading else ANSWER_COLUMNS
    columns = [*(answer_columns if grounded else CONVERSATION_COLUMNS), *LOSS_COLUMNS,
               "runtime", "eval_seconds", *TRAINING_COLUMNS]
    rows = [[name, *(values.get(c) for c in columns)] for name, values in results.items()]
    train = params.train
    lines = [
        "# Fine-tuning for grounded answers: base vs SFT methods vs DPO",
        "",
        f"Every SFT run: {train.max_steps} steps of {train.batch_size} conversations (up to "
        f"{train.max_length} tokens); DPO: {params.dpo.max_steps} steps of {params.dpo.batch_size} "
        f"preference pairs over `{params.dpo.start}`. Peak memory is the training process's peak "
        "(RSS on CPU, allocated on GPU) during training. Replies are generated on `runtime` "
        f"(`answers.runtime: {answers.runtime}`, `answers.precision: {answers.precision}`: each "
        "model exported first when it can be merged; prompt and prefix tuning stay on "
        "transformers); the loss is computed in PyTorch; `eval_seconds` covers both.",
        "",
    ]
    if reading:
        lines += [
            "Held-out reading questions from test articles (SQuAD format, sft.chatml.reading): "
            f"each over {params.chatml.sources} numbered sources of {answers.source_tokens} tokens, its "
            "own paragraph at a uniformly random position among distractor paragraphs (or left "
            "out: the reply should then abstain). Scores follow the official SQuAD 2.0 "
            "evaluation, citations stripped from the reply: f1 and exact_match over answerable "
            "items, overall_f1 over all (an abstention scores 1 on an unanswerable item and 0 on "
            "an answerable one). cites_relevant is citing the gold paragraph; "
            "cites_relevant_evidence the same once a citation of a source without the answer's "
            "words is moved to the best-ranked source that has them (answers.attribute: what "
            "the product shows). Retriever-only "
            f"baselines: `{BASELINE}`, the first source's first sentence cited [1]; "
            f"`{EXTRACTIVE}`, the sentence of the sources the trained cross-encoder scores "
            "highest for the question, cited (neither abstains).",
            "",
        ]
    elif grounded:
        lines += [
            f"Held-out questions from test-split documents, sources in the retriever's order "
            f"({params.chatml.sources} sources, {answers.source_tokens} tokens each"
            f"{', reranked' if answers.rerank else ''}); each answerable question is asked again "
            "with its relevant source left out (the reply should then abstain). "
            f"`base` and the product's model (`answers.chat_model: {answers.chat_model}`) answer "
            f"{params.compare.questions} questions, the others the first "
            f"{params.compare.other_questions}; `{BASELINE}` is the retriever alone: the first "
            "source's first sentence, cited [1]. Rates: cites_relevant, names_title and "
            "false_abstention over answerable items; abstains_unanswerable over the others; "
            "well_formed (cites a source or abstains, and stops) over all. Reading or position: "
            "cites_first is the share of answerable replies citing [1], cites_relevant_not_first "
            "the cites-relevant on the answerable items whose relevant source is not [1] (where "
            f"`{BASELINE}` scores 0).",
            "",
        ]
    if PRODUCT in results:
        lines += [product_sentence(answers), ""]
    lines += [markdown_table(["model", *columns], rows)]
    if best is not None:
        lines += [best_sentence(*best, answers.chat_model, params.compare.other_questions,
                                data.main_metric), ""]
    if grounded:
        lines += [f"## Paired differences against base (same items; {params.compare.bootstrap} "
                  f"bootstrap resamples; metrics {', '.join(data.paired_metrics)})", "",
                  paired_table(results)]
    if best is not None and any("vs_best" in values for values in results.values()):
        lines += ["", f"## Paired differences against the best model, `{best[0]}` (same items; "
                  f"metrics {', '.join(data.paired_metrics)})", "",
                  separation_sentence(results, best[0], data.main_metric), "",
                  paired_table(results, "best", best[0])]
    if reading and any("vs_extractive" in values for values in results.values()):
        lines += ["", f"## Paired differences against the extractive baseline (metrics "
                  f"{', '.join(READING_METRICS)})", "", paired_table(results, EXTRACTIVE)]
    if rag_loop:
        lines += ["", "## The full RAG loop on the test articles", "",
                  "The test articles' questions, each over the "
                  f"{answers.sources} source{'s' if answers.sources > 1 else ''} the product's "
                  "retriever finds in an index of all their paragraphs (answers.sources; "
                  "the pipeline's chunk, embed and retrieval settings, the reranker's "
                  "first-stage fusion, the reranker; the base embedder). A question whose "
                  "paragraph is not retrieved keeps its gold answers: the loop is judged end "
                  "to end.", "",
                  markdown_table(["model", *answer_columns],
                                 [[name, *(values.get(c) for c in answer_columns)]
                                  for name, values in rag_loop.items()]), "",
                  "Paired differences against base:", "",
                  paired_table(rag_loop), "",
                  "Against the extractive baseline:", "", paired_table(rag_loop, EXTRACTIVE), ""]
    lines += ["![Training loss per SFT method](sft_loss_curves.png)", "",
              "![DPO reward margin (chosen - rejected)](dpo_reward_margins.png)", ""]
    if samples:
        lines += ["## Sample answers", "", *samples_section(samples)]
    lines += ["Reproduce: `make repro` (or `dvc repro infer_compare`).", ""]
    atomic_write_text(path, "\n".join(lines))
