"""Answering from retrieved passages: the prompt, cited generation, answer scoring, the RAG evaluation."""
