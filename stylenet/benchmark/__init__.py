"""Speed and memory measurements of training, inference and data loading, and their report (python -m stylenet bench)."""
