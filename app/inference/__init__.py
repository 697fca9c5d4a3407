"""Classifying comments with a saved run: the Classifier."""
