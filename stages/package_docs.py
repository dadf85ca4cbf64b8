"""Stage package_docs: the folder path's default folder, the README files of the Python packages
that requirements.txt installs and that publish Markdown (real documentation nobody here wrote;
other packages in the environment are left out)."""

from __future__ import annotations

from hybridrag.config import load_params
from hybridrag.package_docs import write_package_readmes
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--requirements", required=True,
                        help="the pip requirements file whose packages' READMEs are written")
    parser.add_argument("--out", required=True, help="the folder to write")
    args = parser.parse_args(argv)
    folder = load_params(args.params).folder
    written = write_package_readmes(args.out, args.requirements, folder.example_min_chars,
                                    folder.example_min_headings)
    print(f"package_docs: {written} README files -> {args.out}")


if __name__ == "__main__":
    run(main)
