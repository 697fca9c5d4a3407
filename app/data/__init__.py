"""Reading comment files: formats, encodings, labels, and where NSMC lives."""
