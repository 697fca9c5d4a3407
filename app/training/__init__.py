"""Training a config: preparing the data, fitting with checkpoints, pretraining, distillation, n-grams."""
