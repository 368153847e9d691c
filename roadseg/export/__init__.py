"""ONNX export (needs torch), parity verification, INT8 quantization."""
