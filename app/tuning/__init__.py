"""Hyperparameter search over the config schema with Optuna (train.py --tune)."""
