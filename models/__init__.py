"""Inference runtime (ONNX Runtime) and the shipped crisis model packages."""
