"""Batched greedy generation on a tiny random Llama: same answers as one at a time, order kept, early stop."""

import pytest
import torch
from tiny_llama import tiny_model

from ragft.runtime.batchgen import generate_batch

PROMPTS = [
    [{"role": "user", "content": text}] for text in ("Hi", "A much longer prompt than the first", "Yo")
]


def test_batches_with_left_padding_match_one_at_a_time(tokenizer):
    model = tiny_model(tokenizer)
    together = generate_batch(model, tokenizer, PROMPTS, max_new_tokens=6, batch_size=3, progress=False)
    alone = [generate_batch(model, tokenizer, [p], max_new_tokens=6, progress=False)[0] for p in PROMPTS]
    assert together == alone
    assert len(together) == 3 and all(isinstance(t, str) for t in together)


def test_keep_going_stops_a_sequence_early(tokenizer):
    model = tiny_model(tokenizer)
    full = generate_batch(model, tokenizer, PROMPTS[:1], max_new_tokens=8, progress=False)[0]
    cut = generate_batch(
        model, tokenizer, PROMPTS[:1], max_new_tokens=8, keep_going=lambda t: len(t) < 1, progress=False
    )[0]
    assert len(cut) < len(full) or full == ""


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens must be between"),
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
    ],
)
def test_bad_arguments_are_named(tokenizer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_batch(torch.nn.Identity(), tokenizer, PROMPTS, **{"max_new_tokens": 4, **kwargs})
