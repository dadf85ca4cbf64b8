"""Saving a trained sentence-transformers model so that the same weights give the same files."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def save_model(model: Any, folder: Path) -> None:
    """Save a SentenceTransformer or CrossEncoder without its generated model card.

    The card records the wall-clock training minutes, so the same weights would hash
    differently on every run and make DVC rerun every stage downstream of the model.
    """
    model.save_pretrained(str(folder), create_model_card=False)
