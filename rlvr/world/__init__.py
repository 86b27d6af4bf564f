"""The embedded world: its tasks' worked solutions, a character tokenizer, a tiny Llama base, its
pretraining, demonstrations, probes, figures and the demo. It plugs into the library through the same
public interfaces a user's own task and model use; the library never imports it."""
from ..models import ASSETS, shipped_base_path, shipped_models  # noqa: F401
