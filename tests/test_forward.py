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
    V = model.config.vocab_size
    ids = torch.randint(3, V, (3, 17))
    attn = torch.ones_like(ids)
    with torch.no_grad():
        h = hidden_states(model, ids, attn)
        full = (model(input_ids=ids, attention_mask=attn).logits.float() / 0.5).log_softmax(-1)   # [B, L, V]
        want = full.gather(-1, ids[:, :, None]).squeeze(-1)
        want_ent = -(full.exp() * full).sum(-1)
        for chunk in (1, 5, 17, 1024):                  # positions per chunk: budget = B x chunk x V
            got, ent = chosen_logprobs(model, h, ids, temperature=0.5, budget=3 * chunk * V)
            assert torch.allclose(got, want, atol=1e-6) and torch.allclose(ent, want_ent, atol=1e-5)


def _saved_and_grads(model, ids, budget):
    """The largest vocabulary-wide tensor (logits, log-softmax) autograd keeps for the backward pass of the
    head, and the gradients."""
    model.zero_grad()
    h = hidden_states(model, ids, torch.ones_like(ids)).detach().requires_grad_()
    largest, V = [0], model.config.vocab_size

    def pack(t):
        if t.dim() >= 2 and t.shape[-1] == V:
            largest[0] = max(largest[0], t.numel())
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logp, ent = chosen_logprobs(model, h, ids, budget=budget)
    (logp.sum() + 0.1 * ent.sum()).backward()
    return largest[0], h.grad, model.get_output_embeddings().weight.grad.clone()


def test_under_autograd_the_head_keeps_no_logits_beyond_the_budget():
    model, _ = _model()
    V = model.config.vocab_size
    ids = torch.randint(3, V, (4, 50))
    whole, h_whole, w_whole = _saved_and_grads(model, ids, budget=1 << 25)   # one chunk: logits kept
    small, h_small, w_small = _saved_and_grads(model, ids, budget=4 * 5 * V)  # 5 positions a chunk
    assert whole == 4 * 50 * V                                  # the [B, T, V] log-softmax, kept
    assert small == 0                                           # chunks checkpointed: no logits kept
    assert torch.allclose(h_small, h_whole, atol=1e-5) and torch.allclose(w_small, w_whole, atol=1e-4)
