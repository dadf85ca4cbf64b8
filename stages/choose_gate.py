"""Stage choose_gate: the answerability gate. Its classifier: the trained reranker fine-tuned to
tell whether a passage answers a question, on the reading data's training articles (each
question with its paragraph, 0 where SQuAD marks it impossible, and other paragraphs of the
article as 0); answerability.train: false keeps the reranker's own scores. Its threshold, chosen
on the validation articles' questions as the product meets them: the articles' paragraphs
indexed, each question's answers.sources retrieved and reranked (the full RAG loop). Each
question's best classifier score among its sources, questions whose sources hold the answer
against the rest; the highest threshold that turns away at most answers.gate_max_false_abstention
of the answerable ones. The metrics give the validation rates of both scorers, and what the
product would show on those questions with no gate or a gate under each reported cap, each with
both answers.on_model_abstention settings, for answers.chat_model (its export) and for every
other trained chat model (exported here in answers.precision), and the model and setting with
the best overall F1 within answers.gate_max_false_abstention: the evidence for choosing them."""

from __future__ import annotations

import gc
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
    from hybridrag.answers.policy import best_setting, policy_key, product_policies
    from hybridrag.answers.prompt import build_prompt, token_trimmer
    from hybridrag.atomic import atomic_directory
    from hybridrag.chat.models import load_tokenizer, load_trained, run_kind
    from hybridrag.chat.runtime import load_generator, run_generator
    from hybridrag.config import SFT_METHODS
    from hybridrag.layout import DPO, chat_model_folder
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

    def folder(name: str) -> Path:
        return chat_model_folder(name, args.base_model, args.sft_models, args.dpo)

    others = [name for name in (*SFT_METHODS, DPO)
              if name != answers.chat_model and run_kind(folder(name)) != "skipped"]
    prompts = [build_prompt(i.question, i.sources) for i in items]
    tables, runtimes = {}, {}
    with tempfile.TemporaryDirectory(prefix="hybridrag-chat-models-") as work:
        for name in [answers.chat_model, *others]:
            generator = (load_generator(folder(name), args.base_model, answers.runtime,
                                        answers.precision, args.chat_export, answers.device)
                         if name == answers.chat_model else
                         run_generator(folder(name), Path(args.base_model), answers.runtime,
                                       answers.precision, Path(work) / name,
                                       load_trained(folder(name), args.base_model, answers.device),
                                       tokenizer))
            replies = generator.replies(prompts, answers.max_new_tokens, answers.batch_size)
            runtimes[name] = f"{generator.runtime} {generator.precision}"
            tables[name] = product_policies(items, replies, gate_scores, answers.attribute,
                                            reranker.scores)
            del generator
            gc.collect()
    metrics["product_on_validation"] = {"chat_model": answers.chat_model,
                                        "runtime": runtimes[answers.chat_model],
                                        **tables[answers.chat_model]}
    metrics["other_chat_models_on_validation"] = {name: {"runtime": runtimes[name], **tables[name]}
                                                  for name in others}
    best = metrics["best_on_validation"] = best_setting(tables, answers.gate_max_false_abstention)
    configured = policy_key(answers.gate_max_false_abstention if answers.gate else None,
                            answers.on_model_abstention)
    with atomic_directory(args.out) as staging:
        write_json(staging / GATE_FILE, saved)
        if classifier is not None:
            save_reranker(classifier, staging / CLASSIFIER_FOLDER, {"weight": 1.0})
    write_json(args.metrics, metrics)
    print(f"choose_gate: {metrics}")
    if best is not None and (best["chat_model"], best["setting"]) != (answers.chat_model, configured):
        print(f"choose_gate: on validation the best within {answers.gate_max_false_abstention:g} "
              f"false abstention is {best['chat_model']} with {best['setting']} (overall F1 "
              f"{best['overall_f1']}); the product is configured as {answers.chat_model} with "
              f"{configured}")


if __name__ == "__main__":
    run(main)
