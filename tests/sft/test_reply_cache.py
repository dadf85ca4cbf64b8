"""Replies cached batch by batch: the same replies as one uncached call, read back instead of
generated when a run resumes (after a stop part-way too), never across models, settings or
sampled replies; the fingerprint follows a model's files, not where they are."""

import shutil

import pytest

from hybridrag.chat.generation import Sampling, TransformersGenerator
from hybridrag.sft.reply_cache import CachedGenerator, ReplyCache, model_fingerprint

from ..chat.test_onnx import PROMPTS

BATCHES = 3  # PROMPTS (6) in batches of 2


class StopsAfter:
    """A generator that gives `batches` batches of `inner`'s replies, then fails as a killed
    run would (and counts what it was asked for)."""

    def __init__(self, inner, batches):
        self.inner, self.left, self.calls = inner, batches, 0
        self.tokenizer, self.runtime, self.precision = inner.tokenizer, inner.runtime, inner.precision

    def replies(self, prompts, max_new_tokens, batch_size, sampling=None, samples=1):
        self.calls += 1
        if self.left == 0:
            raise RuntimeError("stopped")
        self.left -= 1
        return self.inner.replies(prompts, max_new_tokens, batch_size, sampling, samples)


@pytest.fixture(scope="module")
def generator(varied_tiny_base):
    return TransformersGenerator.load(varied_tiny_base, varied_tiny_base, "cpu")


@pytest.fixture(scope="module")
def expected(generator):
    return generator.replies(PROMPTS, 12, 2)


def test_cached_replies_are_the_uncached_ones_and_resume_reads_them(generator, expected, tmp_path):
    assert len({r.tokens for r in expected}) == len(PROMPTS)  # varied: a real comparison
    path = tmp_path / "replies.sqlite"
    first = ReplyCache(path)
    assert CachedGenerator(generator, first, "model-a").replies(PROMPTS, 12, 2) == expected
    assert (first.hits, first.misses) == (0, BATCHES)
    again = ReplyCache(path)  # a new run over the same file generates nothing
    nothing = StopsAfter(generator, 0)
    assert CachedGenerator(nothing, again, "model-a").replies(PROMPTS, 12, 2) == expected
    assert (again.hits, nothing.calls) == (BATCHES, 0)


def test_a_run_stopped_part_way_resumes_after_its_last_batch(generator, expected, tmp_path):
    path = tmp_path / "replies.sqlite"
    with pytest.raises(RuntimeError, match="stopped"):
        CachedGenerator(StopsAfter(generator, 1), ReplyCache(path), "model-a").replies(
            PROMPTS, 12, 2)
    resumed = ReplyCache(path)
    counting = StopsAfter(generator, BATCHES)
    assert CachedGenerator(counting, resumed, "model-a").replies(PROMPTS, 12, 2) == expected
    assert (resumed.hits, counting.calls) == (1, BATCHES - 1)


def test_another_model_or_setting_is_generated_not_read(generator, tmp_path):
    cache = ReplyCache(tmp_path / "replies.sqlite")
    CachedGenerator(generator, cache, "model-a").replies(PROMPTS, 12, 2)
    CachedGenerator(generator, cache, "model-b").replies(PROMPTS, 12, 2)
    CachedGenerator(generator, cache, "model-a").replies(PROMPTS, 6, 2)
    assert (cache.hits, cache.misses) == (0, 3 * BATCHES)


def test_sampled_replies_are_not_cached(generator, tmp_path):
    cache = ReplyCache(tmp_path / "replies.sqlite")
    sampling = Sampling(1.0, 0.95, 7)
    cached = CachedGenerator(generator, cache, "model-a").replies(PROMPTS, 8, 2, sampling, 2)
    assert cached == generator.replies(PROMPTS, 8, 2, sampling, 2)
    assert (cache.hits, cache.misses) == (0, 0)
    cache.remove()
    assert not cache.path.exists()


def test_the_fingerprint_follows_the_files_not_their_place(varied_tiny_base, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(varied_tiny_base, copy)
    digest = model_fingerprint([varied_tiny_base], "onnx", "int8")
    assert model_fingerprint([copy], "onnx", "int8") == digest
    assert model_fingerprint([copy], "onnx", "fp32") != digest
    (copy / "run.json").write_text('{"kind": "full"}')
    assert model_fingerprint([copy], "onnx", "int8") != digest
