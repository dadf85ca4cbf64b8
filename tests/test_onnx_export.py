"""The ONNX export cache: a second load of the same module opens the kept graph; changed
weights, a damaged file, a full cache and an unwritable one are handled."""

import numpy as np
import pytest
import torch

from hybridrag import onnx_cache
from hybridrag.onnx_cache import CACHE_ENV, cache_folder
from hybridrag.onnx_export import cpu_session, export_key


class PooledScore(torch.nn.Module):
    """A toy scorer: mean of the real tokens' embeddings, then a linear score."""

    def __init__(self, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.embedding = torch.nn.Embedding(50, 8)
        self.score = torch.nn.Linear(8, 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (self.embedding(input_ids) * mask).sum(1) / mask.sum(1)
        return self.score(pooled).squeeze(-1)


SAMPLE = {"input_ids": torch.tensor([[1, 2, 3]]), "attention_mask": torch.ones(1, 3, dtype=torch.long)}
BATCH = {"input_ids": np.array([[4, 5, 6, 7], [8, 9, 0, 0]]),
         "attention_mask": np.array([[1, 1, 1, 1], [1, 1, 0, 0]])}


def torch_scores(module: PooledScore) -> np.ndarray:
    with torch.no_grad():
        return module(*(torch.from_numpy(v) for v in BATCH.values())).numpy()


def session_scores(module: PooledScore, quantize: bool = False) -> np.ndarray:
    return cpu_session(module, SAMPLE, "score", 1, quantize).run(None, BATCH)[0]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "onnx"))
    return tmp_path / "onnx"


def test_a_second_load_opens_the_kept_export_without_exporting(cache, monkeypatch):
    module = PooledScore(1)
    np.testing.assert_allclose(session_scores(module), torch_scores(module), atol=1e-6)
    assert [p.name for p in cache.iterdir()] == [f"{export_key(module, SAMPLE, 'score', False)}.onnx"]

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    np.testing.assert_allclose(session_scores(PooledScore(1)), torch_scores(module), atol=1e-6)


def test_changed_weights_or_quantisation_export_again(cache):
    first, second = PooledScore(1), PooledScore(2)
    session_scores(first)
    np.testing.assert_allclose(session_scores(second), torch_scores(second), atol=1e-6)
    with torch.no_grad():
        second.score.bias += 1.0  # the same structure, one weight changed
    np.testing.assert_allclose(session_scores(second), torch_scores(second), atol=1e-6)
    assert export_key(first, SAMPLE, "score", True) != export_key(first, SAMPLE, "score", False)
    session_scores(first, quantize=True)
    assert len(list(cache.glob("*.onnx"))) == 4


def test_a_damaged_export_is_replaced(cache, caplog):
    module = PooledScore(1)
    session_scores(module)
    kept = next(cache.glob("*.onnx"))
    kept.write_bytes(b"not a graph")
    with caplog.at_level("WARNING", logger="hybridrag.onnx"):
        np.testing.assert_allclose(session_scores(module), torch_scores(module), atol=1e-6)
    assert "does not open" in caplog.text
    assert kept.stat().st_size > 1000  # exported again and kept


def test_the_cache_keeps_the_most_recently_used_exports(cache, monkeypatch):
    monkeypatch.setattr(onnx_cache, "CACHE_ENTRIES", 2)
    modules = [PooledScore(seed) for seed in (1, 2, 3)]
    keys = [export_key(m, SAMPLE, "score", False) for m in modules]
    for module in modules:
        session_scores(module)
    assert sorted(p.stem for p in cache.glob("*.onnx")) == sorted(keys[1:])


def test_an_unwritable_cache_only_warns(tmp_path, monkeypatch, caplog):
    (tmp_path / "file").write_text("a file where the cache folder would be")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "file" / "onnx"))
    module = PooledScore(1)
    with caplog.at_level("WARNING", logger="hybridrag.onnx"):
        np.testing.assert_allclose(session_scores(module), torch_scores(module), atol=1e-6)
    assert "could not keep the ONNX export" in caplog.text


def test_off_exports_at_every_load(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, "off")
    assert cache_folder() is None
    module = PooledScore(1)
    np.testing.assert_allclose(session_scores(module), torch_scores(module), atol=1e-6)
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_folder() == tmp_path / "hybridrag" / "onnx"
