"""Exported models for deployment: ONNX (scored by onnxruntime, without TensorFlow),
SavedModel (TF Serving) and LiteRT (phones). ``python -m app.export --model models/<run>
--format onnx``; ``formats.export_run`` is the function behind it, and
``onnx_runtime.OnnxModel`` what ``Classifier.load(..., runtime="onnx")`` scores with;
``onnx_quantize`` gives an ONNX export int8 LSTM weights (``--quantize int8``)."""
