"""Changing the weights: LoRA training, behavior and knowledge datasets, format compliance, experiments."""
