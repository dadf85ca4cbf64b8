"""The report's verdict on the best model: ties named, where the product's default stands, and
which methods its intervals separate it from."""

from hybridrag.sft.report import best_sentence, paired_table, separation_sentence


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


def test_separation_names_the_methods_the_best_is_ahead_of_and_the_ones_it_ties():
    results = {"base": {"vs_base": {}},
               "lora": {"vs_best": {"overall_f1": {"difference": -0.1, "items": 100,
                                                   "ci95": [-0.2, -0.01]}}},
               "full": {"vs_best": {"overall_f1": {"difference": -0.05, "items": 100,
                                                   "ci95": [-0.12, 0.02]}}},
               "dpo": {}}
    sentence = separation_sentence(results, "dpo", "overall_f1")
    assert sentence == ("`dpo` reads better on overall-f1 than lora (-0.100 [-0.200, -0.010]): "
                        "each interval excludes zero; it is not separated from full (-0.050 "
                        "[-0.120, +0.020]): each interval holds zero, so on these questions the "
                        "ranking between them is not settled.")
    assert separation_sentence({"dpo": {}}, "dpo", "overall_f1") == (
        "No other trained model to compare `dpo` with.")
    table = paired_table(results, "best", "dpo")
    assert "| model | metric | model - dpo | 95% bootstrap CI | items |" in table
    assert "| lora | overall_f1 | -0.100 | [-0.200, -0.010] | 100 |" in table
