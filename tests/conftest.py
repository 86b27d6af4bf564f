import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def world_tokenizer():
    from rlvr.world.tokenizer import build_tokenizer

    return build_tokenizer()


@pytest.fixture(scope="session")
def tiny_model(world_tokenizer):
    from rlvr.world.model import ModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden_size=32, layers=2, heads=2, intermediate_size=64,
                                    max_positions=256), world_tokenizer)
    model.eval()
    return model


def _world_model_dir(tmp_path_factory, tokenizer, name: str, hidden: int, intermediate: int):
    """A random world model (seed 0, 2 layers, 2 heads) saved as a Hugging Face folder with its tokenizer."""
    from rlvr.world.model import ModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden_size=hidden, layers=2, heads=2, intermediate_size=intermediate,
                                    max_positions=256), tokenizer)
    d = tmp_path_factory.mktemp(name)
    model.save_pretrained(d)
    tokenizer.save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, world_tokenizer):
    """The ``tiny_model`` (the same seed and shape) saved as a Hugging Face folder with its tokenizer."""
    return _world_model_dir(tmp_path_factory, world_tokenizer, "tiny", 32, 64)


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory, world_tokenizer):
    """A small random world model whose head size vLLM's CPU attention takes (32; the tiny one's 16 it does not)."""
    return _world_model_dir(tmp_path_factory, world_tokenizer, "small", 64, 128)
