from .engine import Rollouts, SamplingConfig, generate  # noqa: F401
