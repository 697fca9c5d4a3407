"""kosent: Korean comment sentiment with recurrent networks.

The flow of train.py, one module a step:
    config    the typed schema, YAML loading, --set overrides
    data      readers (TSV, CSV, JSON Lines, text), encodings, labels, NSMC location
    tokenizer MeCab / Okt / Kiwi / characters, on every core, with a disk cache
    vocab     tokens to ids, padding, truncation, coverage
    models    SimpleRNN / LSTM / GRU from the config, closed-form parameter counts
    training  seeds, splits, fitting, epoch checkpoints (--resume)
    evaluate  scikit-learn metrics
    bundle    saving and loading a run directory (atomic, safe_mode)
    inference comments in, probabilities and a status out (predict.py)
    report    the parameter table and plots
    errors    one-line errors for bad input
Nothing here imports TensorFlow at package import time.
"""
