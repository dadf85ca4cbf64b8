from pathlib import Path

import pytest

from hybridrag.config import FusionParams, Params, ParamsError, load_params

ROOT = Path(__file__).resolve().parents[1]


def test_repository_params_load_and_cover_every_section():
    params = load_params(ROOT / "params.yaml")
    assert isinstance(params, Params)
    raw_sections = set(__import__("yaml").safe_load((ROOT / "params.yaml").read_text()))
    assert raw_sections == set(Params.__dataclass_fields__)


def write(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_missing_keys_take_defaults_and_ints_become_floats(tmp_path):
    params = load_params(write(tmp_path, "fusion:\n  rrf_k: 10\n"))
    assert params.fusion == FusionParams(rrf_k=10.0)
    assert isinstance(params.fusion.rrf_k, float)


@pytest.mark.parametrize("text,message", [
    ("fuson: {}\n", r"unknown section\(s\) \['fuson'\]"),
    ("fusion:\n  methd: rrf\n", r"fusion: unknown key\(s\) \['methd'\]"),
    ("fusion:\n  method: sum\n", r"fusion.method: expected one of \['rrf', 'weighted'\], got 'sum'"),
    ("chunk:\n  size: ten\n", "chunk.size: expected int, got str 'ten'"),
    ("chunk:\n  size: 10\n  overlap: 10\n", "chunk.overlap must be >= 0 and < chunk.size"),
    ("eval_retrieval:\n  k_values: 10\n", "eval_retrieval.k_values: expected a list"),
    ("ingest:\n  source: beir\n", "ingest.path is required"),
    ("fusion: [1]\n", "fusion: expected a mapping"),
    ("fusion: {method: [\n", "not valid YAML"),
])
def test_bad_params_name_the_key(tmp_path, text, message):
    with pytest.raises(ParamsError, match=message):
        load_params(write(tmp_path, text))
