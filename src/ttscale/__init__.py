"""ttscale: test-time scaling experiments (best-of-N, PRM search, multi-temperature voting)."""

__version__ = "0.1.0"
