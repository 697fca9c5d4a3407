"""Looking inside a model: gate traces, word attributions, gradients through time."""
