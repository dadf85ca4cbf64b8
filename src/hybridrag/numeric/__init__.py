"""Answers that are numbers: parsing them, year questions from the corpus, and fine-tuning with
token cross-entropy plus a regression loss on the number (issue 12)."""
