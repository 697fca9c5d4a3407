"""Scoring with a run's exported ONNX model in onnxruntime: no TensorFlow anywhere.

    model = OnnxModel.load("models/<run>")     # export/model.onnx, checked against bundle.json
    model.probabilities(ids)                    # (n, classes), as class_probabilities gives them
"""

import os
from pathlib import Path

import numpy as np

from app.artifacts.run import exported_files
from app.errors import BundleError
from app.export.onnx_graph import INPUT, OUTPUT, WEIGHTS
from app.modeling.batching import probabilities_by_length


class OnnxModel:
    """An onnxruntime session over a run's export/model.onnx."""

    def __init__(self, session: object, path: Path) -> None:
        self.session, self.path = session, path
        metadata = session.get_modelmeta().custom_metadata_map
        self.vocab_size, self.classes = int(metadata["vocab_size"]), int(metadata["classes"])
        self.weights = metadata.get(WEIGHTS, "float32")  # int8: exported with --quantize int8

    @classmethod
    def load(cls, run_path: str | os.PathLike, threads: int = 0) -> "OnnxModel":
        """The run's ONNX export, its SHA-256 checked; BundleError when it is missing or changed.
        ``threads``: the session's intra-op threads (0: onnxruntime's default, every core)."""
        import onnxruntime

        (path,) = exported_files(run_path, "onnx")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only
        # Its threads sleep when idle instead of spinning: the tokenizer's processes need the same cores
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.intra_op_num_threads = threads
        try:
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own types for a bad file
            raise BundleError(f"{path}: onnxruntime cannot load it ({' '.join(str(error).split())[:300]})") from None
        return cls(session, path)

    def probabilities(self, ids: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """An (n, classes) array of probabilities for front-padded ``ids``, scored by length."""
        if len(ids) == 0:
            return np.zeros((0, self.classes), dtype=np.float32)
        score = lambda batch: self.session.run([OUTPUT], {INPUT: np.ascontiguousarray(batch, dtype=np.int32)})[0]
        return probabilities_by_length(score, ids, batch_size, self.classes)
