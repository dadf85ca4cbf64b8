
"""Both numeric runs on a tiny random model: the plain run saves an adapter, the hybrid run saves
its head beside it (reloading to the trained head), and each writes its metrics."""

import json

import pytest
import torch

from hybridrag.chat.models import RUN_INFO, load_trained
from hybridrag.numeric.head import HEAD_CONFIG, load_head
from hybridrag.numeric.rows import question_row
from hybridrag.numeric.training import train_numeric
from hybridrag.numeric.years import YearQuestion

from ..conftest import PARAMS
from ..runs import run_in

pytestmark = pytest.mark.slow  # two training runs

QUESTIONS = [YearQuestion(f"q{i}#born", f"d{i}", f"In what year was person {i} born?",
                          1800.0 + 7 * i, "") for i in range(8)]
PARAMS_TINY = PARAMS.numeric.updated(
    train=PARAMS.numeric.train.updated(max_length=64, batch_size=2, max_steps=2, save_steps=1,
                                       eval_steps=2, eval_samples=2, device="cpu"),
    adapter=PARAMS.numeric.adapter.updated(learning_rate=1e-2, r=4, alpha=8))


def run(loss, tiny_base, folder):
    paths = run_in(tiny_base, folder)
    rows = [question_row(q, "none") for q in QUESTIONS]
    return paths, train_numeric(loss, PARAMS_TINY, rows[:6], rows[6:], paths)


@pytest.mark.parametrize("loss", ["cross_entropy", "hybrid"])
def test_each_run_saves_its_adapter_and_metrics(tmp_path, tiny_base, loss):
    paths, metrics = run(loss, tiny_base, tmp_path)
    assert metrics["train_steps"] == 2 and metrics["loss"] == loss and metrics["train_rows"] == 6
    assert json.loads(paths.metrics.read_text()) == metrics
    info = json.loads((paths.out_dir / RUN_INFO).read_text())
    assert info["loss"] == loss and info["kind"] == "adapter"
    assert (paths.out_dir / "adapter_model.safetensors").is_file()
    assert (paths.out_dir / HEAD_CONFIG).is_file() == (loss == "hybrid")
    assert not paths.checkpoints.exists()
    load_trained(paths.out_dir, tiny_base, "cpu")  # the adapter loads on its base
    if loss == "hybrid":
        head, normalizer = load_head(paths.out_dir)
        assert normalizer.mean == pytest.approx(sum(q.target for q in QUESTIONS[:6]) / 6)
        assert metrics["regression_loss"] is not None and metrics["regression_loss"] > 0
        assert torch.isfinite(head(torch.randn(3, 64))).all()
