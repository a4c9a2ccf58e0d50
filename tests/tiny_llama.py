"""A tiny random Llama with SmolLM2's tokenizer: a fast stand-in for the generator in LoRA and batch tests."""

import torch


def tiny_model(tokenizer, seed: int = 0):
    """A 2-layer, 32-wide Llama; its weights depend on the seed only (the global generator is left alone)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    return model.eval()
