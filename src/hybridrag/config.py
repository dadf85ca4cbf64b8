"""Typed views of params.yaml: one pydantic model per section.

params.yaml is the single source of every value: the models here declare types and checks only,
no defaults, so a key missing from params.yaml is an error that names it rather than a value
hidden in code. A scalar `fusion` (what `dvc exp run -S fusion=rrf` writes) is shorthand for that
method with its standard settings (`STANDARD_FUSION`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from hybridrag.errors import ParamsError
from hybridrag.layout import PARAMS


def _yaml_float(value: Any) -> Any:
    """PyYAML reads 5e-4 (no dot) as a string; YAML 1.2 tools such as DVC write it so."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


Float = Annotated[float, BeforeValidator(_yaml_float)]
Share = Annotated[float, BeforeValidator(_yaml_float), Field(ge=0.0, le=1.0)]
Positive = Annotated[int, Field(ge=1)]
Device = Annotated[str, Field(min_length=1)]  # auto | cpu | cuda | cuda:N | mps


def tuple_of(item: Any) -> Any:
    """A YAML list read as a tuple (frozen models stay hashable), items checked strictly."""
    return Annotated[tuple[item, ...], BeforeValidator(_as_tuple)]


class Section(BaseModel):
    """A params section: strict types, unknown keys refused, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    def updated(self, **changes: Any) -> Self:
        """A copy with `changes` applied and checked like params.yaml itself."""
        try:
            return self.model_validate({**self.model_dump(), **changes})
        except ValidationError as error:
            raise ParamsError(describe_errors(error)) from None


class IngestParams(Section):
    source: Literal["wiki", "beir", "jsonl", "files"]
    path: str | None  # BEIR folder, JSONL file or folder of files; unused by the wiki source
    include: tuple_of(str)  # files: shell patterns on relative path or file name
    exclude: tuple_of(str)
    wiki_language: str
    max_documents: Positive | None  # a seeded random subset; None keeps all
    test_fraction: Share  # share of documents whose queries go to the test split
    seed: int
    on_error: Literal["raise", "skip"]
    questions: str | None  # JSONL of the user's questions, judged (ingest/questions.py); None: none

    @model_validator(mode="after")
    def path_for_files(self) -> IngestParams:
        if self.source in {"beir", "jsonl", "files"} and not self.path:
            raise ValueError(f"ingest.path is required when ingest.source is {self.source!r}")
        return self


class FolderParams(Section):
    """The fast path: a folder of files indexed and measured with the trained models as they
    are (stages package_docs, index_folder, eval_folder; docs/your-documents.md)."""

    path: str  # the folder (default: the installed packages' READMEs, stage package_docs)
    include: tuple_of(str)  # shell patterns on relative path or file name
    exclude: tuple_of(str)
    on_error: Literal["raise", "skip"]
    questions: str  # JSONL of judged questions about the folder (as ingest.questions; may be empty)
    example_min_chars: Positive  # package_docs: READMEs shorter than this are left out,
    example_min_headings: Positive  # and those with fewer Markdown headings
    gate_sections: Positive | None  # index_folder: headings scored for the gate (evenly spread)

    def as_ingest(self) -> IngestParams:
        """The files source over this folder (no subsampling: every file is indexed)."""
        return IngestParams(source="files", path=self.path, include=self.include,
                            exclude=self.exclude, wiki_language="en-us", max_documents=None,
                            test_fraction=0.0, seed=0, on_error=self.on_error,
                            questions=self.questions)


class ChunkParams(Section):
    size: Positive  # words per chunk
    overlap: Annotated[int, Field(ge=0)]  # words shared by neighbouring chunks

    @model_validator(mode="after")
    def overlap_below_size(self) -> ChunkParams:
        if self.overlap >= self.size:
            raise ValueError(f"chunk.overlap must be >= 0 and < chunk.size ({self.size}), "
                             f"got {self.overlap}")
        return self


class EmbedParams(Section):
    model: str  # a local model folder, or a PyPI model package name
    batch_size: Positive
    device: Device
    include_title: bool  # embed "title text" rather than the chunk text alone
    max_seq_length: Positive | None  # None keeps the model's own limit
    backend: Literal["torch", "onnx", "onnx_int8"]  # onnx*: ONNX Runtime on CPU


class BuildDbParams(Section):
    faiss_index: Literal["flat", "hnsw", "ivf"]
    hnsw_m: Positive
    hnsw_ef_construction: Positive
    ivf_lists: Positive | None  # None: round(sqrt(chunks))
    fts_tokenizer: str  # an FTS5 tokenize= value, or auto: follows the corpus's main language


class RetrievalParams(Section):
    """Query-time knobs shared by the CLI, evaluation and the service."""

    depth: Positive  # documents each retriever hands to fusion
    bm25_title_weight: Float
    bm25_text_weight: Float
    keyword_engine: Literal["sparse", "fts5"]  # sparse: precomputed weights, FTS5's scores
    query_precision: Literal["fp32", "int8"]  # int8: queries encoded by the int8 ONNX model on CPU
    stopwords: Literal["auto", "english", "none"]  # auto: english for an English index
    hnsw_ef_search: Positive
    ivf_nprobe: Positive  # IVF lists searched per query
    embedding: str  # which of the index's embedding sets dense retrieval uses


# What a scalar `fusion: rrf` (or `weighted`) means: the method with its standard settings
# (k = 60 from Cormack et al. 2009; an equal-weight convex sum of min-max scores).
STANDARD_FUSION: dict[str, dict[str, Any]] = {
    "rrf": {"rrf_k": 60.0, "dense_weight": 0.5, "normalization": "minmax"},
    "weighted": {"rrf_k": 60.0, "dense_weight": 0.5, "normalization": "minmax"},
}


class StoreParams(Section):
    """Where search reads a built index: its own folder, or PostgreSQL (README: Beyond one
    machine). Connection strings come from the environment, never from here."""

    backend: Literal["sqlite", "postgres"]
    served_name: Annotated[str, Field(min_length=1)]  # postgres: the name a version is served as
    grace_seconds: Annotated[float, BeforeValidator(_yaml_float), Field(ge=0)]
    postgres_dense: Literal["hnsw", "exact"]  # exact: scan every vector (FAISS flat's results)


class FusionParams(Section):
    method: Literal["rrf", "weighted"]
    rrf_k: Annotated[float, BeforeValidator(_yaml_float), Field(ge=0)]
    dense_weight: Share  # weighted: dense share; BM25 gets 1 - dense_weight
    normalization: Literal["minmax", "zscore"]

    @model_validator(mode="before")
    @classmethod
    def method_shorthand(cls, data: Any) -> Any:
        if isinstance(data, str) and data in STANDARD_FUSION:
            return {"method": data, **STANDARD_FUSION[data]}
        if isinstance(data, str):
            raise ValueError(f"a scalar fusion must be one of {sorted(STANDARD_FUSION)}, "
                             f"got {data!r}")
        return data


class EvalParams(Section):
    split: str
    k_values: Annotated[tuple_of(Positive), Field(min_length=1)]
    max_queries: Positive | None  # seeded random subset of the split; None keeps all
    batch_size: Positive  # queries encoded per batch
    sweep_dense_weights: tuple_of(Share)
    sweep_rrf_k: tuple_of(Float)
    rerank_queries: Positive | None  # seeded subset scored with the reranker (slow on CPU)
    seed: int  # picks the query subsets


class GroundedParams(Section):
    """The grounded source: conversations over retrieved sources (prompt settings: `answers`)."""

    max_train: Positive | None  # seeded subset of the training questions; None keeps all
    max_validation: Positive | None  # validation questions (each also as a no-answer variant)
    max_test: Positive | None  # test questions (each also as a no-answer variant)
    synthetic_questions: bool  # add make_pairs' synthetic questions to the training ones
    no_answer_share: Share  # training: answerable questions whose relevant source is left out
    follow_up_share: Share  # training: conversations that go on with a follow-up question
    shuffle_sources: Share  # training: conversations whose sources are shuffled


class ReadingParams(Section):
    """The reading source: SQuAD-format questions over numbered paragraphs (prompt: `answers`)."""

    path: str  # a SQuAD-format JSON file (default: the 12 SQuAD 2.0 articles in data/reading)
    validation_articles: Positive  # articles held out for validation (split by article)
    test_articles: Positive  # articles held out for test
    same_article_share: Share  # distractor paragraphs taken from the question's own article
    no_answer_share: Share  # answerable questions shown without their paragraph (reply abstains)
    follow_up_share: Share  # training conversations that go on with another question
    # training: unanswerable questions capped at this share (a seeded subset; None keeps the
    # file's, about half in SQuAD 2.0)
    train_unanswerable_share: Share | None
    max_train: Positive | None  # seeded subset of each split's questions; None keeps all
    max_validation: Positive | None
    max_test: Positive | None
    # grounded training conversations added per reading one (a mixture; 0: reading only)
    grounded_share: Annotated[float, BeforeValidator(_yaml_float), Field(ge=0.0)]


class ChatmlParams(Section):
    source: Literal["grounded", "reading", "chitchat", "alpaca", "sharegpt", "messages"]
    path: str | None  # JSONL file for alpaca / sharegpt / messages
    max_conversations: Positive | None  # converted sources: seeded subset before splitting
    max_turns: Annotated[int, Field(ge=2)]  # converted sources: messages kept from the start
    validation_fraction: Share  # grounded: share of training documents; others: of conversations
    test_fraction: Share  # converted sources only (grounded tests on the ingest test split)
    seed: int
    on_error: Literal["raise", "skip"]
    # numbered sources in each conversation the reading and grounded sources write (training
    # and held-out); the product's prompts read answers.sources
    sources: Positive
    grounded: GroundedParams
    reading: ReadingParams

    @model_validator(mode="after")
    def consistent(self) -> ChatmlParams:
        if self.source not in ("grounded", "reading", "chitchat") and not self.path:
            raise ValueError(f"sft.chatml.path is required when sft.chatml.source is {self.source!r}")
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError("sft.chatml: validation_fraction and test_fraction must sum to less than 1")
        return self


class SftTrainParams(Section):
    """Settings shared by every fine-tuning run (sized for a 2-core CPU; see README for GPU)."""

    max_length: Positive  # tokens per conversation, longer ones are truncated
    batch_size: Positive
    gradient_accumulation: Positive
    max_steps: Positive
    warmup_ratio: Share
    save_steps: Positive  # checkpoint every N steps (an interrupted run resumes from the last)
    eval_steps: Positive
    eval_samples: Positive  # validation conversations scored during training
    seed: int
    device: Device
    gradient_checkpointing: bool


class LoraParams(Section):
    learning_rate: Float
    r: Positive
    alpha: Positive
    dropout: Share
    target_modules: str


class QloraParams(LoraParams):
    quant_type: Literal["nf4", "fp4"]
    double_quant: bool


class VirtualTokensParams(Section):
    """Prompt tuning (learned input embeddings) and prefix tuning (learned keys and values)."""

    learning_rate: Float
    num_virtual_tokens: Positive
    init_text: str | None  # the tokens start from this text's embeddings or activations; None: random


class FullParams(Section):
    learning_rate: Float
    deepspeed_config: str | None  # None: plain PyTorch


class DpoParams(Section):
    """Preference tuning (TRL DPOTrainer, a LoRA adapter) of the SFT run `start`."""

    start: Literal["lora", "qlora", "full"]  # the SFT run DPO continues from (merged into it)
    prompts: Positive  # training prompts whose replies are sampled
    samples: Positive  # sampled replies per prompt
    sample_precision: Literal["fp32", "int8", "int4"]  # answers.runtime onnx: the sampler's weights
    temperature: Float
    top_p: Share
    synthetic_share: Share  # prompts without a wrong sampled reply that get a corrupted one
    balance_abstention: bool  # as many pairs teach answering as teach abstaining
    beta: Float
    loss_type: Literal["sigmoid", "ipo", "hinge", "robust"]
    max_steps: Positive
    batch_size: Positive
    learning_rate: Float
    r: Positive
    alpha: Positive
    dropout: Share
    seed: int


class CompareParams(Section):
    questions: Positive  # held-out questions for base and answers.chat_model (+ no-answer variants)
    other_questions: Positive  # for every other model (the first of the same questions)
    loss_conversations: Positive  # held-out conversations scored for loss and perplexity
    batch_size: Positive  # conversations per forward pass for the loss
    bootstrap: Positive  # resamples for the paired differences' intervals
    samples: Annotated[int, Field(ge=0)]  # questions shown side by side in the report
    seed: int


SFT_METHODS = ("lora", "qlora", "prompt_tuning", "prefix_tuning", "full")
SftMethod = Literal["lora", "qlora", "prompt_tuning", "prefix_tuning", "full"]


class SftParams(Section):
    base_model: str  # a PyPI package with a GGUF file, or a local HF model folder
    gguf_file: str | None
    system_prompt: str | None
    methods: tuple_of(SftMethod)  # the runs that train; the others are skipped
    chatml: ChatmlParams
    train: SftTrainParams
    lora: LoraParams
    qlora: QloraParams
    prompt_tuning: VirtualTokensParams
    prefix_tuning: VirtualTokensParams
    full: FullParams
    dpo: DpoParams
    compare: CompareParams


class PairsParams(Section):
    validation_fraction: Annotated[float, BeforeValidator(_yaml_float), Field(ge=0.0, lt=1.0)]
    synthetic_chunks: Annotated[int, Field(ge=0)]  # chunks the chat model writes a question for
    synthetic_top_k: Positive  # keep a question only if its passage is in its dense top k
    passage_chars: Positive  # the start of the passage shown to the question writer
    max_new_tokens: Positive
    generation_batch_size: Positive
    encode_batch_size: Positive  # queries and questions embedded per batch
    seed: int
    device: Device


class FinetuneEmbedParams(Section):
    max_pairs: Positive | None  # seeded subset of the training pairs; None uses all
    epochs: Float
    batch_size: Positive  # in-batch negatives per query = batch_size - 1
    learning_rate: Float
    warmup_steps: Annotated[int, Field(ge=0)]
    max_seq_length: Positive
    eval_steps: Positive  # validation nDCG@10 every N steps; the best checkpoint is kept
    validation_distractors: Annotated[int, Field(ge=0)]  # training passages added to the corpus
    seed: int
    device: Device


class RerankParams(Section):
    max_queries: Positive | None  # training queries (each with its hard negatives)
    validation_queries: Positive | None  # validation pairs that choose the weight
    reading_queries: Annotated[int, Field(ge=0)]  # natural questions (reading training articles)
    reading_validation: Annotated[int, Field(ge=0)]  # and of its validation articles, for the weight
    negatives: Positive  # hard negatives per query, mined from the hybrid retriever
    loss: Literal["mnrl", "bce"]  # softmax over positive + negatives, or pointwise BCE
    in_batch_negatives: Annotated[int, Field(ge=0)]  # mnrl: other queries' positives as negatives
    epochs: Float
    batch_size: Positive  # queries per batch (mnrl), or (query, passage) rows (bce)
    learning_rate: Float
    warmup_steps: Annotated[int, Field(ge=0)]
    max_length: Positive
    depth: Positive  # hybrid candidates the reranker rescores
    weights: tuple_of(Share)  # reranker shares tried on validation
    seed: int
    device: Device
    # The hybrid run the reranker is trained (hard negatives) and tuned (weight) on. Its own
    # setting, so that trying another query-time `fusion` does not retrain the reranker.
    first_stage: FusionParams


OnModelAbstention = Literal["keep", "extractive"]  # past the gate: show it, or the best sentence


class AnswersParams(Section):
    """Grounded answers: the prompt (its source budget also the training data's) and the
    product's model."""

    chat_model: str  # base | an SFT method | dpo: what ask, /ask and eval_answers use
    runtime: Literal["transformers", "onnx"]  # onnx: ONNX Runtime GenAI on CPU (export_chat)
    precision: Literal["fp32", "int8", "int4"]  # onnx's weights; transformers runs fp32
    sources: Positive  # retrieved sources in each product prompt (ask, /ask, eval_answers, the RAG loop)
    rerank: bool  # rerank the sources with the trained cross-encoder
    gate: bool  # abstain without asking the model when no reranked source passes choose_gate's threshold
    gate_max_false_abstention: Share  # choose_gate: answerable validation questions it may turn away
    attribute: bool  # move a citation to the best-ranked source that holds the answer's words
    on_model_abstention: OnModelAbstention
    source_tokens: Positive  # each source's passage is cut to this many tokens
    max_new_tokens: Positive
    batch_size: Positive  # questions generated together
    max_queries: Positive  # eval_answers: held-out test queries answered
    seed: int
    device: Device

    @model_validator(mode="after")
    def precision_of_the_runtime(self) -> AnswersParams:
        if self.runtime == "transformers" and self.precision != "fp32":
            raise ValueError(f"answers.precision {self.precision!r} needs answers.runtime: onnx "
                             "(transformers runs fp32)")
        return self


class AnswerabilityParams(Section):
    """choose_gate's scorer: the trained reranker fine-tuned (binary cross-entropy) to tell
    whether a passage answers a question, on the reading data's training articles."""

    train: bool  # false: the gate reads the reranker's own scores
    negatives: Annotated[int, Field(ge=0)]  # other paragraphs of the article per question, labelled 0
    max_rows: Positive | None  # seeded subset of the (question, passage, label) rows
    epochs: Float
    batch_size: Positive
    learning_rate: Float
    warmup_steps: Annotated[int, Field(ge=0)]
    max_length: Positive  # question + passage tokens (a 160-token source needs about 192)
    seed: int
    device: Device


class NumericDataParams(Section):
    """Questions whose answer is a number, as ChatML rows."""

    source: Literal["corpus_years", "messages"]  # the corpus's dated descriptions | a JSONL file
    path: str | None  # messages: JSONL rows {"messages": [...], "target": optional}
    on_error: Literal["raise", "skip"]  # messages: a row without a number stops, or is counted
    in_text: bool  # corpus_years: also the cloze set (a year blanked in an article's sentence)
    stated_only: bool  # corpus_years: only questions whose article text gives the year
    validation_fraction: Share  # share of training documents (messages: rows) held out
    test_fraction: Share  # messages only: share of rows for test (the corpus has its test split)
    max_train: Positive | None  # seeded subsets per question set; None keeps all
    max_validation: Positive | None
    max_test: Positive | None
    seed: int

    @model_validator(mode="after")
    def path_for_messages(self) -> NumericDataParams:
        if self.source == "messages" and not self.path:
            raise ValueError("numeric.data.path is required when numeric.data.source is 'messages'")
        return self


# What a numeric prompt carries before the question: nothing, the retrieved sources, solved
# training questions found by words (BM25) or by meaning (dense), or sources and semantic ones.
NumericContext = Literal["none", "sources", "keyword", "semantic", "both"]


class NumericContextParams(Section):
    """The context of corpus questions' prompts (a messages file keeps its own prompts)."""

    train: tuple_of(NumericContext)  # each training and validation row gets one, seeded
    evaluate: tuple_of(NumericContext)  # every held-out question is asked with each
    examples: Positive  # solved training questions in a keyword, semantic or both prompt
    example_pool: Literal["split", "rows"]  # the examples searched: every training-split
    # question (split) or only the rows the models fine-tune on (rows)
    sources: Positive  # retrieved sources in a sources or both prompt
    source_tokens: Positive  # each source cut to this many tokens
    rerank: bool  # rerank the sources with the trained cross-encoder

    @model_validator(mode="after")
    def contexts_given(self) -> NumericContextParams:
        for name in ("train", "evaluate"):
            values = getattr(self, name)
            if not values or len(set(values)) != len(values):
                raise ValueError(f"numeric.context.{name} needs at least one context, each once")
        return self


class RegressionParams(Section):
    """The hybrid loss: cross-entropy + weight * loss(head(hidden), normalised target)."""

    weight: Annotated[float, BeforeValidator(_yaml_float), Field(ge=0)]
    loss: Literal["mse", "mae", "huber"]
    normalization: Literal["zscore", "none"]  # zscore: training-split mean and std
    head_hidden: Positive  # the head's inner width


class NumericEvaluateParams(Section):
    tolerances: tuple_of(Float)  # accuracy within +-t for each t
    max_new_tokens: Positive
    batch_size: Positive
    bootstrap: Positive  # resamples for the paired differences' intervals
    samples: Annotated[int, Field(ge=0)]  # questions shown side by side in the report
    seed: int


class NumericParams(Section):
    method: Literal["lora", "qlora"]  # the adapter both runs (plain SFT, hybrid loss) train
    data: NumericDataParams
    context: NumericContextParams
    train: SftTrainParams
    adapter: QloraParams  # LoRA settings (quant_type and double_quant: qlora only)
    regression: RegressionParams
    evaluate: NumericEvaluateParams


class Params(Section):
    ingest: IngestParams
    folder: FolderParams
    chunk: ChunkParams
    embed: EmbedParams
    build_db: BuildDbParams
    retrieval: RetrievalParams
    store: StoreParams
    fusion: FusionParams
    eval_retrieval: EvalParams
    sft: SftParams
    pairs: PairsParams
    finetune_embed: FinetuneEmbedParams
    rerank: RerankParams
    answers: AnswersParams
    answerability: AnswerabilityParams
    numeric: NumericParams


def describe_errors(error: ValidationError) -> str:
    """One line per problem, each naming the dotted key and the bad value."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        if problem["type"] == "missing":
            lines.append(f"{key}: missing (params.yaml must set every key)")
        elif problem["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key")
        elif problem["type"] == "value_error":
            lines.append(f"{key + ': ' if key else ''}{problem['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"{key}: {problem['msg'].lower()}, got {problem['input']!r}")
    return "; ".join(lines)


def params_from_mapping(raw: Any, where: str = "params") -> Params:
    """Params from an already parsed mapping (a test's overrides, an exported experiment)."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{where}: expected a mapping of sections at the top level")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ParamsError(f"{where}: {describe_errors(error)}") from None


def load_params(path: str | os.PathLike[str] = PARAMS) -> Params:
    """Read and check every section of params.yaml."""
    file = Path(path)
    if not file.is_file():
        raise ParamsError(f"{file}: no such params file (every setting lives in params.yaml)")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ParamsError(f"{file}: not valid YAML: {error}") from error
    return params_from_mapping(raw, str(file))
