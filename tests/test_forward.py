"""The policy forward (``train/forward.py``): temperature-aware log-probs that match the sampler's."""
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.models import shipped_base_path
from rlvr.rollout import SamplingConfig, generate
from rlvr.train.forward import chosen_logprobs, completion_logprobs, hidden_states


def _model():
    torch.manual_seed(0)
    path = shipped_base_path()
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def test_recomputed_logprobs_at_the_sampling_temperature_give_a_ratio_of_one():
    model, tok = _model()
    prompts = ["19745+19023=", "5021-388=", "77+15=", "120-99="]
    ro = generate(model, tok, prompts, n=4, sampling=SamplingConfig(temperature=0.7, max_new_tokens=60, seed=3))
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    with torch.no_grad():
        logp, _, mask = completion_logprobs(model, ro.prompt_ids, ro.completion_ids, pad, temperature=0.7)
        raw, _, _ = completion_logprobs(model, ro.prompt_ids, ro.completion_ids, pad)   # temperature 1
    sampled = torch.zeros_like(logp)
    for i, lp in enumerate(ro.logprobs):
        sampled[i, :len(lp)] = torch.tensor(lp)
    ratio = torch.exp(logp - sampled)[mask.bool()]
    assert mask.sum() > 100
    assert torch.allclose(ratio, torch.ones_like(ratio), atol=1e-5), float((ratio - 1).abs().max())
    # without the temperature the ratio is far from 1: the bug this guards against
    assert float((torch.exp(raw - sampled)[mask.bool()] - 1).abs().max()) > 0.05


def test_chunked_logprobs_equal_a_full_log_softmax_whatever_the_chunk():
    model, _ = _model()
    ids = torch.randint(3, model.config.vocab_size, (3, 17))
    attn = torch.ones_like(ids)
    with torch.no_grad():
        h = hidden_states(model, ids, attn)
        full = (model(input_ids=ids, attention_mask=attn).logits.float() / 0.5).log_softmax(-1)   # [B, L, V]
        want = full.gather(-1, ids[:, :, None]).squeeze(-1)
        want_ent = -(full.exp() * full).sum(-1)
        for chunk in (1, 5, 17, 1024):
            got, ent = chosen_logprobs(model, h, ids, temperature=0.5, chunk=chunk)
            assert torch.allclose(got, want, atol=1e-6) and torch.allclose(ent, want_ent, atol=1e-5)
