"""Saving a trained model: the same weights give the same files, however long training took."""

from hybridrag.learning.saving import save_model


def folder_bytes(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_same_weights_save_to_the_same_files_whatever_the_training_time(small_reranker,
                                                                            tmp_path,
                                                                            monkeypatch):
    model, _, _, _ = small_reranker
    save_model(model, tmp_path / "first")
    card = model.model_card_data  # sentence-transformers times training from here
    monkeypatch.setattr(card, "_training_start_time", card._training_start_time - 3600)
    save_model(model, tmp_path / "an hour later")
    first, later = folder_bytes(tmp_path / "first"), folder_bytes(tmp_path / "an hour later")
    assert "model.safetensors" in first and "config.json" in first
    assert later == first
