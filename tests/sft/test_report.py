"""The report's verdict on the best model: ties named, and where the product's default stands."""

from hybridrag.sft.report import best_sentence


def test_best_sentence_names_a_tie_with_the_default():
    scores = {"base": (0.0, 0.2), "full": (0.8, 0.99), "dpo": (0.8, 0.98), "lora": (0.5, 0.9)}
    sentence = best_sentence("full", scores, "dpo", 100)
    assert "**full** (tied on cites-relevant with dpo; ties go to well-formed replies)" in sentence
    assert "tied by the product's default (`dpo`)" in sentence
    assert "lora 0.500 (0.900)" in sentence


def test_best_sentence_without_a_tie():
    scores = {"base": (0.0, 0.2), "full": (0.8, 0.99), "dpo": (0.7, 0.98)}
    assert "**full**, **not** the product's default (`dpo`)" in best_sentence("full", scores, "dpo", 100)
    assert "**dpo**, the product's default." in best_sentence("dpo", {"dpo": (0.7, 1.0)}, "dpo", 100)
