"""Stage choose_gate: the answerability gate. Its classifier: the trained reranker fine-tuned to
tell whether a passage answers a question, on the reading data's training articles (each
question with its paragraph, 0 where SQuAD marks it impossible, and other paragraphs of the
article as 0); answerability.train: false keeps the reranker's own scores. Its threshold, chosen
on the validation articles' questions as the product meets them: the articles' paragraphs
indexed, each question's answers.sources retrieved and reranked (the full RAG loop). Each
question's best classifier score among its sources, questions whose sources hold the answer
against the rest; the highest threshold that turns away at most answers.gate_max_false_abstention
of the answerable ones. The metrics give the validation rates of both scorers, and what the
product would show on those questions with no gate or a gate under each reported cap and the
configured one, each with both answers.on_model_abstention settings, for answers.chat_model
(its export) and for every other trained chat model (exported here in answers.precision), and
the model and setting with the best overall F1 within answers.gate_max_false_abstention: the
evidence for choosing them."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--reranker", required=True, help="train_reranker's cross-encoder")
    parser.add_argument("--base-model", required=True,
                        help="its tokenizer cuts the training paragraphs as sources are cut")
    parser.add_argument("--sft-models", required=True, help="the chat models (answers.chat_model)")
    parser.add_argument("--dpo", required=True)
    parser.add_argument("--chat-export", required=True, help="export_chat's model (runtime onnx)")
    parser.add_argument("--checkpoints", required=True)
    parser.add_argument("--out", required=True, help="the gate's folder (gate.json, classifier)")
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    from hybridrag.answers.gate import (
        CLASSIFIER_FOLDER,
        GATE_FILE,
        best_source_scores,
        choose_gate,
    )
    from hybridrag.answers.model_choice import (
        beats_configured,
        chat_model_tables,
        trained_chat_models,
    )
    from hybridrag.answers.policy import best_setting, policy_key
    from hybridrag.answers.prompt import token_trimmer
    from hybridrag.atomic import atomic_directory
    from hybridrag.chat.models import load_tokenizer
    from hybridrag.learning.answerability import train_answerability
    from hybridrag.learning.reranker import save_reranker
    from hybridrag.reporting import write_json
    from hybridrag.search.rerank import Reranker, runnable
    from hybridrag.sft.grounded import item_from_row
    from hybridrag.sft.reading import answerability_rows, rag_loop_rows, reading_articles

    answers, settings, reading = params.answers, params.answerability, params.sft.chatml.reading
    tokenizer = load_tokenizer(args.base_model)
    reranker = Reranker.load(args.reranker, answers.device)
    with tempfile.TemporaryDirectory(prefix="hybridrag-rag-loop-") as work:
        rows = rag_loop_rows(params, tokenizer, reranker, Path(work) / "index", "validation",
                             [answers.sources])[answers.sources]
    items, kinds = [item_from_row(r) for r in rows], [r["meta"]["kind"] for r in rows]
    chosen_on = (f"{len(rows)} validation questions, each with the {answers.sources} "
                 f"source{'s' if answers.sources > 1 else ''} the product retrieves")
    gate_scores = best_source_scores(items, reranker.scores)
    saved, rates = choose_gate(items, kinds, gate_scores, answers.gate_max_false_abstention,
                               chosen_on)
    metrics = {"scorer": "reranker", **rates}
    classifier = None
    if settings.train:
        train = reading_articles(reading, params.sft.chatml.seed,
                                 token_trimmer(tokenizer, answers.source_tokens))[0]["train"]
        examples = answerability_rows(train, settings.negatives, settings.max_rows, settings.seed)
        classifier = train_answerability(examples, Path(args.reranker), settings,
                                         Path(args.checkpoints))
        gate_scores = best_source_scores(items, Reranker(runnable(classifier), 1.0).scores)
        saved, rates = choose_gate(items, kinds, gate_scores, answers.gate_max_false_abstention,
                                   chosen_on)
        metrics = {"scorer": "answerability", **rates, "training_rows": len(examples),
                   "reranker": metrics}

    names = trained_chat_models(answers.chat_model, Path(args.base_model), Path(args.sft_models),
                                Path(args.dpo))
    tables, runtimes = chat_model_tables(names, items, gate_scores, reranker.scores, answers,
                                         tokenizer, Path(args.base_model), Path(args.sft_models),
                                         Path(args.dpo), Path(args.chat_export))
    metrics["product_on_validation"] = {"chat_model": answers.chat_model,
                                        "runtime": runtimes[answers.chat_model],
                                        **tables[answers.chat_model]}
    metrics["other_chat_models_on_validation"] = {name: {"runtime": runtimes[name], **tables[name]}
                                                  for name in names[1:]}
    best = metrics["best_on_validation"] = best_setting(tables, answers.gate_max_false_abstention)
    configured = policy_key(answers.gate_max_false_abstention if answers.gate else None,
                            answers.on_model_abstention)
    with atomic_directory(args.out) as staging:
        write_json(staging / GATE_FILE, saved)
        if classifier is not None:
            save_reranker(classifier, staging / CLASSIFIER_FOLDER, {"weight": 1.0})
    write_json(args.metrics, metrics)
    print(f"choose_gate: {metrics}")
    if beats_configured(best, tables, answers.chat_model, configured):
        print(f"choose_gate: on validation the best within {answers.gate_max_false_abstention:g} "
              f"false abstention is {best['chat_model']} with {best['setting']} (overall F1 "
              f"{best['overall_f1']}); the product is configured as {answers.chat_model} with "
              f"{configured}")


if __name__ == "__main__":
    run(main)
