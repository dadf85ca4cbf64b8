"""Retrieval evaluation: every mode and fusion setting scored, and the report built from it."""
