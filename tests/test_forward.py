"""The policy forward (``train/forward.py``): temperature-aware log-probs that match the sampler's."""
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr.models import shipped_base_path
from rlvr.rollout import SamplingConfig, generate
from rlvr.train import forward
from rlvr.train.forward import (chosen_logprobs, completion_logprobs, hidden_states, packed_bins, packed_rows,
                                packs_correctly)


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


def test_first_fit_decreasing_puts_rows_in_the_fewest_bins_it_finds():
    assert packed_bins([5, 3, 2, 4, 1], 6) == [[0, 4], [3, 2], [1]]
    assert packed_bins([2, 2, 2], 6) == [[0, 1, 2]]
    assert packed_bins([6, 6], 6) == [[0], [1]]


def test_packed_rows_restart_positions_and_point_at_the_outputs_that_predict_each_completion_token():
    ids, pos, mask, targets, where = packed_rows([[1, 2], [3], [4, 5, 6]], [[7], [8, 9], [10, 11]], pad_id=0)
    # rows of 3, 3 and 5 tokens in sequences of 5: [row 2], [row 0, padding 2], [row 1, padding 2]
    assert ids.tolist() == [[4, 5, 6, 10, 11], [1, 2, 7, 0, 0], [3, 8, 9, 0, 0]]
    assert pos.tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 0, 1], [0, 1, 2, 0, 1]]
    assert targets.tolist() == [[7, 0], [8, 9], [10, 11]] and mask.tolist() == [[1, 0], [1, 1], [1, 1]]
    assert where[0].tolist() == [[1, 1], [1, 2]] and where[1].tolist() == [[2, 0], [2, 1]]
    assert where[2].tolist() == [[0, 2], [0, 3]]
    ids, pos, *_ = packed_rows([[1, 2], [3]], [[7], [8, 9]], pad_id=0, cap=6)
    assert ids.tolist() == [[1, 2, 7, 3, 8, 9]] and pos.tolist() == [[0, 1, 2, 0, 1, 2]]


def test_packed_rows_give_the_padded_logprobs_entropies_and_gradients_in_fewer_sequences():
    model, _ = _model()
    g = torch.Generator().manual_seed(0)
    V = model.config.vocab_size
    prompts = [torch.randint(3, V, (n,), generator=g).tolist() for n in (4, 6, 3, 5, 7, 2, 4, 6)]
    completions = [torch.randint(3, V, (n,), generator=g).tolist() for n in (60, 3, 9, 40, 1, 17, 25, 8)]
    seen = []
    hook = model.get_decoder().register_forward_hook(lambda m, a, kw, out: seen.append(kw["input_ids"].shape),
                                                     with_kwargs=True)
    assert packs_correctly(model)
    seen.clear()
    got = completion_logprobs(model, prompts, completions, 0, temperature=0.7)
    (got[0] * got[2]).sum().backward()
    got_grad = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    want = completion_logprobs(model, prompts, completions, 0, temperature=0.7, pack=False)
    (want[0] * want[2]).sum().backward()
    hook.remove()
    assert seen == [torch.Size([4, 64]), torch.Size([8, 64])]            # packed: 4 sequences, padded: 8
    m = want[2].bool()
    assert torch.equal(got[2], want[2])
    assert torch.allclose(got[0][m], want[0][m], atol=1e-5) and torch.allclose(got[1][m], want[1][m], atol=1e-5)
    for a, b in zip(got_grad, (p.grad for p in model.parameters())):
        assert torch.allclose(a, b, atol=1e-5 * float(b.abs().max()) + 1e-7)


def test_a_model_whose_attention_ignores_restarting_positions_gets_padded_rows():
    """A model whose attention crosses packed rows (here a Qwen2 whose body never sees the position ids)
    fails the one-off check and is scored with padded rows."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    class CrossRows(Qwen2ForCausalLM):
        """A Qwen2 whose body never sees position ids: packed rows attend to each other."""
        def get_decoder(self):
            body = super().get_decoder()
            return lambda position_ids=None, **kw: body(**kw)

    torch.manual_seed(0)
    model = CrossRows(Qwen2Config(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                  num_attention_heads=2, num_key_value_heads=1))
    assert not packs_correctly(model)
    prompts, completions = [[3, 4], [5], [6, 7]], [[8, 9, 10], [11], [12]]     # rows of 5, 2, 3: two sequences
    got = completion_logprobs(model, prompts, completions, 0)
    want = completion_logprobs(model, prompts, completions, 0, pack=False)
    assert torch.equal(got[0], want[0])
    crossed = forward._packed(model, packed_rows(prompts, completions, 0), 1.0, False)[0]   # packed regardless
    assert not torch.allclose(crossed[want[2].bool()], want[0][want[2].bool()], atol=1e-3)
