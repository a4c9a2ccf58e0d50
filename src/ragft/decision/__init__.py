"""Choosing a method: the eight decision questions and the cost model, both driven by rules/*.json."""
