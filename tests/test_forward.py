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


def test_at_qwen_vocabulary_the_chunked_completion_logprobs_and_gradients_equal_a_full_log_softmax():
    """Qwen2.5's 151,936 tokens on a tiny random Qwen2: at the default budget 2 rows x 150 completion
    tokens take two chunks (110 positions each), checkpointed; a full log-softmax gives the same numbers."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rlvr.train.forward import LOGITS_BUDGET

    torch.manual_seed(0)
    V = 151_936
    model = Qwen2ForCausalLM(Qwen2Config(vocab_size=V, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True))
    prompts = [torch.randint(3, V, (n,)).tolist() for n in (3, 7)]
    completions = [torch.randint(3, V, (n,)).tolist() for n in (150, 120)]
    assert 150 > LOGITS_BUDGET // (2 * V)                        # more than one chunk
    logp, ent, mask = completion_logprobs(model, prompts, completions, pad_id=0)
    (logp * mask).sum().backward()
    got_grad = model.get_input_embeddings().weight.grad.clone()
    model.zero_grad()
    want, want_ent = torch.zeros_like(logp), torch.zeros_like(logp)
    for i, (p, c) in enumerate(zip(prompts, completions)):
        full = model(input_ids=torch.tensor([p + c])).logits.float().log_softmax(-1)[0]   # [L, V]
        rows = full[len(p) - 1:len(p) + len(c) - 1]                                       # predicting c
        want[i, :len(c)] = rows.gather(-1, torch.tensor(c)[:, None]).squeeze(-1)
        want_ent[i, :len(c)] = -(rows.exp() * rows).sum(-1).detach()
    (want * mask).sum().backward()
    m = mask.bool()
    assert torch.allclose(logp[m], want[m], atol=1e-5) and torch.allclose(ent[m], want_ent[m], atol=1e-4)
    want_grad = model.get_input_embeddings().weight.grad           # tied: the head's and the embedding's
    assert torch.allclose(got_grad, want_grad, atol=1e-5 * float(want_grad.abs().max()))
