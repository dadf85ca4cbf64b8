"""params.yaml is the one source of every setting: the models hold types and checks only."""

import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from hybridrag.config import STANDARD_FUSION, FusionParams, Params, load_params
from hybridrag.errors import ParamsError

from .conftest import PARAMS

ROOT = Path(__file__).resolve().parents[1]
RAW = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_repository_params_load_and_cover_every_section():
    params = load_params(ROOT / "params.yaml")
    assert isinstance(params, Params)
    assert set(RAW) == set(Params.model_fields)


def models(cls: type[BaseModel]) -> list[type[BaseModel]]:
    """`cls` and every section model nested in it."""
    found = [cls]
    for field in cls.model_fields.values():
        for candidate in (field.annotation, *typing.get_args(field.annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                found += models(candidate)
    return found


def test_code_holds_no_default_so_params_yaml_is_the_only_source():
    for model in models(Params):
        defaulted = [name for name, field in model.model_fields.items() if not field.is_required()]
        assert not defaulted, f"{model.__name__} has defaults in code: {defaulted}"


def write(tmp_path, raw):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw) if not isinstance(raw, str) else raw)
    return path


def with_change(section, key, value):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    target = raw
    for part in section.split("."):
        target = target[part]
    if value is KeyError:
        del target[key]
    else:
        target[key] = value
    return raw


@pytest.mark.parametrize("section,key,value,message", [
    ("fusion", "method", "sum", r"fusion.method: input should be 'rrf' or 'weighted', got 'sum'"),
    ("chunk", "size", "ten", r"chunk.size: input should be a valid integer, got 'ten'"),
    ("chunk", "size", True, r"chunk.size: input should be a valid integer, got True"),
    ("chunk", "overlap", 200, r"chunk.overlap must be >= 0 and < chunk.size \(200\), got 200"),
    ("eval_retrieval", "k_values", 10, r"eval_retrieval.k_values: input should be a valid tuple"),
    ("ingest", "source", "pdf", r"ingest.source: input should be 'wiki', 'beir', 'jsonl' or 'files'"),
    ("fusion", "methd", "rrf", r"fusion.methd: unknown key"),
    ("chunk", "size", KeyError, r"chunk.size: missing"),
    ("sft.dpo", "beta", "high", r"sft.dpo.beta: input should be a valid number, got 'high'"),
    ("answers", "sources", 0, r"answers.sources: input should be greater than or equal to 1, got 0"),
])
def test_bad_params_name_the_dotted_key_and_the_value(tmp_path, section, key, value, message):
    with pytest.raises(ParamsError, match=message):
        load_params(write(tmp_path, with_change(section, key, value)))


def test_a_source_read_from_a_path_needs_one():
    with pytest.raises(ParamsError, match="ingest.path is required when ingest.source is 'files'"):
        PARAMS.ingest.updated(source="files", path=None)


def test_unknown_section_and_bad_yaml_are_named(tmp_path):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    with pytest.raises(ParamsError, match=r"fuson: unknown key"):
        load_params(write(tmp_path, {**raw, "fuson": {}}))
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(write(tmp_path, "fusion: {method: [\n"))
    with pytest.raises(ParamsError, match="no such params file"):
        load_params(tmp_path / "missing.yaml")


def test_yaml_1_2_floats_and_ints_are_read_as_floats(tmp_path):
    params = load_params(write(tmp_path, with_change("sft.lora", "learning_rate", "5e-4")))
    assert params.sft.lora.learning_rate == 5e-4
    params = load_params(write(tmp_path, with_change("fusion", "rrf_k", 10)))
    assert params.fusion.rrf_k == 10.0 and isinstance(params.fusion.rrf_k, float)


@pytest.mark.parametrize("method", ["rrf", "weighted"])
def test_a_scalar_fusion_is_that_method_with_its_standard_settings(tmp_path, method):
    """What `dvc exp run -S fusion=rrf` writes."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    params = load_params(write(tmp_path, {**raw, "fusion": method}))
    assert params.fusion == FusionParams(method=method, **STANDARD_FUSION[method])
    with pytest.raises(ParamsError, match="a scalar fusion must be one of"):
        load_params(write(tmp_path, {**raw, "fusion": "sum"}))


def test_updated_checks_the_change():
    params = load_params(ROOT / "params.yaml")
    assert params.fusion.updated(method="rrf").method == "rrf"
    with pytest.raises(ParamsError, match="dense_weight: input should be less than or equal to 1"):
        params.fusion.updated(dense_weight=2)
