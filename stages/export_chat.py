"""Stage export_chat: the product's chat model (answers.chat_model) for ONNX Runtime GenAI in
answers.precision (adapters merged into the base first), which `hybridrag ask`, /ask and
eval_answers then generate with. With answers.runtime: transformers, or a chat model that
cannot be merged (prompt or prefix tuning), it records why nothing was exported."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--base-model", required=True, help="prepare_base's folder")
    parser.add_argument("--sft-models", required=True, help="the SFT runs, one folder per method")
    parser.add_argument("--dpo", required=True, help="the train_dpo run")
    parser.add_argument("--out", required=True, help="the exported model")
    args = parser.parse_args(argv)
    settings = load_params(args.params).answers
    from hybridrag.chat.onnx import export_chat_model
    from hybridrag.layout import chat_model_folder

    folder = chat_model_folder(settings.chat_model, args.base_model, args.sft_models, args.dpo)
    print("export_chat: " + export_chat_model(folder, Path(args.base_model), Path(args.out),
                                              settings.runtime, settings.precision))


if __name__ == "__main__":
    run(main)
