"""The bottom layer: what every other part runs on.

The offline guard, thread sizing from the CPU quota, paths and caches, content hashes, memory
and time budgets, the notebook runner, and the two models (MiniLM and SmolLM2) with batched generation.
"""
