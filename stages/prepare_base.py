"""Stage prepare_base: the base chat model (PyPI GGUF package or local folder) as a plain HF folder."""

from __future__ import annotations

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params).sft
    from hybridrag.chat.models import prepare_base

    info = prepare_base(params.base_model, params.gguf_file, params.system_prompt, args.out)
    print(f"prepare_base: {info['architecture']} with {info['parameters'] / 1e6:.1f} M parameters "
          f"from {params.base_model} -> {args.out}")


if __name__ == "__main__":
    run(main)
