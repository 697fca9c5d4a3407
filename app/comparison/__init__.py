"""Comparing models on one test set: scoring, significance, the report."""
