"""Metrics of a model on a test set, and their significance."""
