"""Stage eval_answers (and answer_folder, over index_folder's index and your folder's
questions): the product's grounded answers (answers.chat_model over the served retriever) to
held-out test queries, scored by the one scorer, beside "always cite [1]"."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--index", required=True)
    parser.add_argument("--reranker", required=True,
                        help="reranks the sources when answers.rerank is set")
    parser.add_argument("--base-model", required=True)
    parser.add_argument("--sft-models", required=True)
    parser.add_argument("--dpo", required=True)
    parser.add_argument("--chat-export", required=True, help="export_chat's model (runtime onnx)")
    parser.add_argument("--gate", required=True,
                        help="choose_gate's answerability gate (with the index's own threshold "
                             "where index_folder chose one)")
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--report", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    from hybridrag.answers.evaluation import (
        evaluate_answers,
        questions_to_answer,
        write_answers_report,
    )
    from hybridrag.answers.index_gate import load_gate
    from hybridrag.atomic import atomic_write_text
    from hybridrag.chat.runtime import load_generator
    from hybridrag.ingest.beir import read_beir
    from hybridrag.layout import chat_model_folder
    from hybridrag.reporting import write_json
    from hybridrag.search.searcher import Searcher

    settings = params.answers
    dataset = read_beir(args.data)
    split = params.eval_retrieval.split
    if not questions_to_answer(dataset, split, None, 0):  # a folder of files without questions
        note = (f"No judged queries in split {split!r} of {args.data}, so answers are not "
                "measured; list your own questions in a file (ingest.questions, or "
                "folder.questions for the folder path; see docs/your-documents.md) or try "
                "them with `hybridrag ask`.")
        write_json(args.metrics, {"queries": 0, "split": split, "note": note})
        atomic_write_text(Path(args.report), f"# Grounded answers\n\n{note}\n")
        print(f"eval_answers: {note}")
        return
    folder = chat_model_folder(settings.chat_model, args.base_model, args.sft_models, args.dpo)
    generator = load_generator(folder, args.base_model, settings.runtime, settings.precision,
                               args.chat_export, settings.device)
    with Searcher(args.index, params.retrieval, params.fusion, device=settings.device,
                  reranker=args.reranker if settings.rerank else None,
                  rerank_depth=params.rerank.depth) as searcher:
        gate = (load_gate(args.gate, args.index, device=settings.device)
                if settings.gate and settings.rerank else None)
        summary, answers, items = evaluate_answers(generator, searcher, dataset, split, settings,
                                                   gate)
    write_json(args.metrics, summary)
    write_answers_report(Path(args.report), summary, answers, items)
    print(f"eval_answers: {settings.chat_model}: {summary[settings.chat_model]}")


if __name__ == "__main__":
    run(main)
