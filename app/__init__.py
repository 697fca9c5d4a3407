"""kosent: Korean comment sentiment with recurrent networks.

The flow of train.py, one module a step:
    config      the typed schema, YAML loading, --set overrides
    data        readers (TSV, CSV, JSON Lines, text), encodings, labels, NSMC location
    tokenizer   MeCab / Okt / Kiwi / characters, on every core, with a disk cache
    vocab       tokens to ids, padding, truncation, coverage
    models      SimpleRNN / LSTM / GRU from the config, closed-form parameter counts
    training    seeds, splits, fitting, epoch checkpoints (--resume)
    experiment  prepare the data once, train one model (shared by train.py and --compare)
    evaluate    scikit-learn metrics
    bundle      saving and loading a run directory (atomic, safe_mode)
    inference   comments in, probabilities and a status out (predict.py)
    report      the parameter table and plots
    errors      one-line errors for bad input
Comparing models (train.py --compare, predict.py --compare):
    compare     scoring saved runs on one test set, significance, length buckets, tables
    html_report the self-contained report.html (figures and a Hangul font embedded)
Looking inside (predict.py --explain, python -m app.explain):
    gates       LSTM/GRU gates and SimpleRNN state changes recomputed from the weights
    attribution integrated-gradients word attributions, terminal and HTML views
    explain     gradients through time per cell type, gradient norm with/without clipping
Nothing here imports TensorFlow at package import time.
"""
