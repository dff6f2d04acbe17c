"""bench: an MLPerf-style inference benchmark harness for image classification."""

__version__ = "0.1.0"
