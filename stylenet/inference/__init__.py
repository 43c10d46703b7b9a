"""Stylising with a trained network: the Stylizer, tiling with shared statistics, export to ONNX/TorchScript."""
