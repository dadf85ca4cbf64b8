"""Stage index_folder: the fast path for a folder of your files (params: folder). The folder is read
as ingest reads files, with its judged questions, then chunked, embedded and indexed with the
trained models as they are (the embedder retrieval.embedding names): nothing is retrained, so
only the folder's stages run when the folder changes. The answerability gate's threshold for this
index is then chosen on its own section headings (answers/index_gate.py; saved in the index)."""

from __future__ import annotations

import time

from hybridrag.answers.gate import Gate
from hybridrag.answers.index_gate import calibrate_index_gate
from hybridrag.answers.prompt import token_trimmer
from hybridrag.chat.models import load_tokenizer
from hybridrag.config import load_params
from hybridrag.folder import index_folder
from hybridrag.jsonl import RowPolicy
from hybridrag.reporting import describe_machine, write_json
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--finetuned-embedder", required=True,
                        help="the fine-tuned embedder (the 'finetuned' set; 'base' is embed.model)")
    parser.add_argument("--data", required=True, help="BEIR folder to write (documents, questions)")
    parser.add_argument("--out", required=True, help="the index folder to write")
    parser.add_argument("--gate", required=True, help="choose_gate's answerability gate")
    parser.add_argument("--chat-base", required=True,
                        help="its tokenizer cuts the sections as the product cuts sources")
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    policy = RowPolicy(params.folder.on_error)
    start = time.perf_counter()
    summary = index_folder(params, {"base": params.embed.model,
                                    "finetuned": args.finetuned_embedder},
                           args.data, args.out, policy)
    policy.warn_if_skipped()
    gate = calibrate_index_gate(Gate.load(args.gate, device=params.answers.device), args.gate,
                                args.out, token_trimmer(load_tokenizer(args.chat_base),
                                                        params.answers.source_tokens),
                                params.answers.gate_max_false_abstention,
                                params.folder.gate_sections)
    summary.update(gate=gate, seconds=round(time.perf_counter() - start, 1),
                   machine=describe_machine(), **policy.skipped_record())
    write_json(args.metrics, summary)
    chosen = (gate["note"] if gate["threshold"] is None else
              f"gate threshold {gate['threshold']:.4f} on {gate['scored']} section headings")
    print(f"index_folder: {summary['documents']} documents, {summary['chunks']} chunks "
          f"({summary['embedding']} embedder), {summary['judged_questions']} judged questions, "
          f"{chosen}, in {summary['seconds']} s -> {args.out}")


if __name__ == "__main__":
    run(main)
