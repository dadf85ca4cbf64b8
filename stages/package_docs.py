"""Stage package_docs: the folder path's default folder, the README files of the installed Python
packages that publish Markdown (real documentation nobody here wrote; pinned by requirements.txt)."""

from __future__ import annotations

from hybridrag.config import load_params
from hybridrag.package_docs import write_package_readmes
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--out", required=True, help="the folder to write")
    args = parser.parse_args(argv)
    folder = load_params(args.params).folder
    written = write_package_readmes(args.out, folder.example_min_chars, folder.example_min_headings)
    print(f"package_docs: {written} README files -> {args.out}")


if __name__ == "__main__":
    run(main)
