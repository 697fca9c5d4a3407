"""Comments in, predictions out, with the same tokenizer and vocabulary as training.

Every input row gets an output row. A row whose comment is empty (or only spaces),
or whose tokens are all unknown to the vocabulary, gets no label: the model would
only return its constant score for an all-padding input. Its ``status`` says why:

    ok                a prediction
    empty             the comment is empty or whitespace only
    no_known_tokens   no token of the comment is in the vocabulary
"""

import numpy as np

from app.models import class_probabilities

OK, EMPTY, NO_KNOWN_TOKENS = "ok", "empty", "no_known_tokens"


def encode_comments(bundle, texts):
    """(token lists, padded id matrix) for ``texts``, exactly as the bundle's model was trained."""
    tokens = bundle.tokenizer.tokenize(texts)
    return tokens, bundle.vocab.encode(tokens, bundle.config.vocab.max_length, bundle.config.vocab.truncate)


def predict_texts(bundle, texts, batch_size=1024):
    """Probabilities (n x classes; NaN where there is no prediction) and a status per text."""
    return _score(bundle, *_encode_with_status(bundle, texts), batch_size)


def predict_chunks(bundle, chunks, text_column, batch_size=1024):
    """(chunk, probabilities, status) for each DataFrame of ``chunks``, in order.

    The next chunk is read and tokenized in a background thread while the model scores
    this one: the tokenizer's worker processes and TensorFlow then share the cores
    instead of waiting for each other. Errors (a bad line in the input) come out here.
    """
    from concurrent.futures import ThreadPoolExecutor

    chunks = iter(chunks)

    def read_and_encode():
        chunk = next(chunks, None)
        return None if chunk is None else (chunk, _encode_with_status(bundle, chunk[text_column].tolist()))

    with ThreadPoolExecutor(max_workers=1) as background:
        pending = background.submit(read_and_encode)
        while (ready := pending.result()) is not None:
            pending = background.submit(read_and_encode)
            chunk, (ids, status) = ready
            yield chunk, *_score(bundle, ids, status, batch_size)


def _encode_with_status(bundle, texts):
    texts = [text if isinstance(text, str) else "" for text in texts]
    _, ids = encode_comments(bundle, texts)
    status = np.full(len(texts), OK, dtype=object)
    status[(ids > 1).sum(axis=1) == 0] = NO_KNOWN_TOKENS  # 0 = padding, 1 = unknown token
    status[[not text.strip() for text in texts]] = EMPTY
    return ids, status


def _score(bundle, ids, status, batch_size):
    probabilities = np.full((len(ids), len(bundle.labels.names)), np.nan, dtype=np.float64)
    has_prediction = status == OK
    probabilities[has_prediction] = class_probabilities(bundle.model, ids[has_prediction], batch_size)
    return probabilities, status


def output_columns(existing, names):
    """Names of the added columns; ``predicted_`` is prefixed where the input has one."""
    wanted = ["label", "confidence", *(f"p_{name}" for name in names), "status"]
    taken, columns = set(existing), []
    for column in wanted:
        while column in taken:
            column = f"predicted_{column}"
        taken.add(column)
        columns.append(column)
    return columns


def with_predictions(frame, bundle, probabilities, status):
    """``frame`` (columns and order untouched) plus label, confidence, p_<class>, status."""
    names = bundle.labels.names
    columns = output_columns(frame.columns, names)
    best = predicted_classes(probabilities, status)
    added = {
        columns[0]: [names[i] if i >= 0 else None for i in best],  # null in JSON, empty in CSV
        columns[1]: np.round(probabilities.max(axis=1), 6),  # NaN where there is no prediction
    }
    for column, i in zip(columns[2:-1], range(len(names))):
        added[column] = np.round(probabilities[:, i], 6)
    added[columns[-1]] = status
    result = frame.reset_index(drop=True).copy()
    for column, values in added.items():
        result[column] = values
    return result


def predicted_classes(probabilities, status):
    """Class index per row, -1 where there is no prediction."""
    return np.where(status == OK, np.nan_to_num(probabilities).argmax(axis=1), -1)
