"""The harness: build a worker image per commit, measure it, compare and bisect."""

__version__ = "0.1.0"
