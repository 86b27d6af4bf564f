import pytest

from rlvr.config import describe, field_docs, load_config, to_yaml
from rlvr.world.pretrain import PretrainConfig


def test_defaults_yaml_and_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("lr: 0.01\nmodel:\n  layers: 2\ncorpus:\n  style_weights: {direct: 0.5, stepwise: 0.5}\n")
    cfg = load_config(PretrainConfig, f, ["model.hidden_size=64", "tokens=1000", "corpus.seed=7"])
    assert cfg.lr == 0.01 and cfg.model.layers == 2 and cfg.model.hidden_size == 64
    assert cfg.model.heads == 2                      # untouched defaults stay
    assert cfg.tokens == 1000 and cfg.corpus.seed == 7
    assert cfg.corpus.style_weights == {"direct": 0.5, "stepwise": 0.5}   # free-form dicts replace whole
    again = tmp_path / "again.yaml"
    again.write_text(to_yaml(cfg))
    assert load_config(PretrainConfig, again) == cfg


@pytest.mark.parametrize("override,match", [
    ("model.layerz=2", "unknown key"),
    ("lr=fast", "not a valid float"),
    ("tokens", "key=value"),
    ("model=3", "mapping"),
])
def test_bad_overrides_are_clear_errors(override, match):
    with pytest.raises(ValueError, match=match):
        load_config(PretrainConfig, None, [override])


def test_unknown_yaml_key(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("learning_rate: 1\n")
    with pytest.raises(ValueError, match="unknown config key"):
        load_config(PretrainConfig, f)


def test_every_field_is_documented():
    from rlvr.world.corpus import CorpusConfig
    from rlvr.world.model import ModelConfig

    for cls in (PretrainConfig, ModelConfig, CorpusConfig):
        docs = field_docs(cls)
        import dataclasses
        missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
        assert not missing, (cls.__name__, missing)
    names = [r[0] for r in describe(PretrainConfig)]
    assert "model.hidden_size" in names and "corpus.p_slip" in names
