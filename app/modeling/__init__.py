"""The network: cells, poolings and optimizers (registries), layers, losses, the model builder and parameter formulas."""
