import pytest
import torch

from rlvr.rollout import SamplingConfig, generate


def reference_sample(model, tokenizer, prompt, max_new, seed, temperature=1.0):
    """Sampling written plainly: a full forward over the whole sequence at every step, no cache."""
    gen = torch.Generator().manual_seed(seed)
    ids = tokenizer(prompt)["input_ids"]
    out, lps = [], []
    with torch.no_grad():
        for _ in range(max_new):
            logits = model(input_ids=torch.tensor([ids + out])).logits[0, -1].float() / temperature
            logp = logits.log_softmax(-1)
            tok = int(torch.multinomial(logits.softmax(-1)[None], 1, generator=gen)[0, 0])
            out.append(tok)
            lps.append(float(logp[tok]))
            if tok == tokenizer.eos_token_id:
                break
    return out, lps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cache_path_matches_no_cache_reference(tiny_model, world_tokenizer, seed):
    prompt = "1234+5678=\n"
    ro = generate(tiny_model, world_tokenizer, [prompt], n=1,
                  sampling=SamplingConfig(max_new_tokens=30, seed=seed, batch_size=1))
    ref_ids, ref_lps = reference_sample(tiny_model, world_tokenizer, prompt, 30, seed)
    assert ro.completion_ids[0] == ref_ids
    assert torch.allclose(torch.tensor(ro.logprobs[0]), torch.tensor(ref_lps), atol=1e-5)


def test_batched_left_padded_logprobs_match_teacher_forcing(tiny_model, world_tokenizer):
    prompts = ["12+34=\n", "1234567+7654321=\n", "make 24 from 3 8 1\n"]
    ro = generate(tiny_model, world_tokenizer, prompts, n=3,
                  sampling=SamplingConfig(max_new_tokens=25, seed=5, temperature=0.7))
    assert ro.group == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert len(set(map(tuple, ro.completion_ids))) > 1          # sampling differs within a group
    for pids, cids, lps in zip(ro.prompt_ids, ro.completion_ids, ro.logprobs):
        if not cids:
            continue
        with torch.no_grad():
            logits = tiny_model(input_ids=torch.tensor([pids + cids])).logits[0].float() / 0.7
        logp = logits.log_softmax(-1)[len(pids) - 1:-1].gather(-1, torch.tensor(cids)[:, None])[:, 0]
        assert torch.allclose(logp, torch.tensor(lps), atol=1e-4)


def test_deterministic_and_finish_reasons(tiny_model, world_tokenizer):
    s = SamplingConfig(max_new_tokens=12, seed=3)
    a = generate(tiny_model, world_tokenizer, ["5+5=\n", "77-7=\n"], n=4, sampling=s)
    b = generate(tiny_model, world_tokenizer, ["5+5=\n", "77-7=\n"], n=4, sampling=s)
    assert a.completion_ids == b.completion_ids and a.text == b.text
    for ids, reason in zip(a.completion_ids, a.finish_reason):
        assert reason in ("stop", "length")
        assert len(ids) <= 12
        if reason == "length":
            assert len(ids) == 12 and world_tokenizer.eos_token_id not in ids
        else:
            assert ids[-1] == world_tokenizer.eos_token_id
    c = generate(tiny_model, world_tokenizer, ["5+5=\n", "77-7=\n"], n=4, sampling=SamplingConfig(max_new_tokens=12, seed=4))
    assert c.completion_ids != a.completion_ids


def test_greedy_matches_argmax(tiny_model, world_tokenizer):
    ro = generate(tiny_model, world_tokenizer, ["99+1=\n"], n=2, sampling=SamplingConfig(temperature=0, max_new_tokens=8))
    assert ro.completion_ids[0] == ro.completion_ids[1]
    ids = world_tokenizer("99+1=\n")["input_ids"]
    with torch.no_grad():
        for t in ro.completion_ids[0]:
            assert int(tiny_model(input_ids=torch.tensor([ids])).logits[0, -1].argmax()) == t
            ids.append(t)


def test_stop_string_and_bad_input(tiny_model, world_tokenizer):
    ro = generate(tiny_model, world_tokenizer, ["1+1=\n"], n=8,
                  sampling=SamplingConfig(max_new_tokens=40, seed=0, stop=["1"]))
    assert any("1" in t for t in ro.text)              # the stop string did occur
    for text, reason in zip(ro.text, ro.finish_reason):
        if "1" in text:
            assert text.endswith("1") and text.count("1") == 1 and reason == "stop"
    with pytest.raises(ValueError):
        generate(tiny_model, world_tokenizer, ["x"], n=0)


def test_rows_finishing_at_different_steps_keep_their_cache_aligned(tiny_model, world_tokenizer):
    # stop strings end rows at scattered steps, so finished rows sit in the batch for a while and the
    # batch and its cache are compacted several times; every row's log-probs must still be its own
    prompts = ["12+34=\n", "1234567+7654321=\n", "make 24 from 3 8 1\n", "9-3=\n"]
    ro = generate(tiny_model, world_tokenizer, prompts, n=6,
                  sampling=SamplingConfig(max_new_tokens=40, seed=2, stop=["1", "a", "+"]))
    lengths = sorted(len(c) for c in ro.completion_ids)
    assert lengths[0] < 10 and lengths[len(lengths) // 2] < 40 and len(set(lengths)) > 8
    for pids, cids, lps in zip(ro.prompt_ids, ro.completion_ids, ro.logprobs):
        with torch.no_grad():
            logits = tiny_model(input_ids=torch.tensor([pids + cids])).logits[0].float()
        logp = logits.log_softmax(-1)[len(pids) - 1:-1].gather(-1, torch.tensor(cids)[:, None])[:, 0]
        assert torch.allclose(logp, torch.tensor(lps), atol=1e-4)


def test_warns_when_a_budget_passes_the_models_positions(tiny_model, world_tokenizer):
    import warnings
    prompt = ["1+1=\n"]
    n_prompt = len(world_tokenizer(prompt[0])["input_ids"])
    limit = tiny_model.config.max_position_embeddings                  # 256
    with pytest.warns(UserWarning, match=f"passes the model's {limit} positions"):
        generate(tiny_model, world_tokenizer, prompt, sampling=SamplingConfig(max_new_tokens=limit - n_prompt + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                  # exactly at the limit: no warning
        generate(tiny_model, world_tokenizer, prompt, sampling=SamplingConfig(max_new_tokens=limit - n_prompt))


def test_per_row_draws_are_uniform_and_independent():
    """The counter-based generator of per-group seeds: uniform in (0, 1), no fixed point at seed 0 (a
    splitmix64 finaliser alone maps 0 to 0, which would always draw the first token), no correlation
    between positions, distinct keys."""
    from rlvr.rollout.engine import row_keys_of, row_uniform

    keys = row_keys_of(list(range(500)), 8)
    assert len(set(keys.tolist())) == 4000
    u = torch.stack([row_uniform(keys, t) for t in range(20)])                 # [20, 4000]
    assert 0 < float(u.min()) and float(u.max()) < 1
    assert float(row_uniform(row_keys_of([0], 1), 0)) > 1e-6
    shares = torch.histc(u.float(), bins=10, min=0, max=1) / u.numel()
    assert torch.allclose(shares, torch.full((10,), 0.1), atol=0.005)          # 80,000 draws: sd 0.001
    r = torch.corrcoef(torch.stack([u[:-1].flatten(), u[1:].flatten()]))[0, 1]
    assert abs(float(r)) < 0.01
