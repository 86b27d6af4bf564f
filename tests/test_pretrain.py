import json
import random
import re

import pytest

from rlvr.cli import main
from rlvr.config import load_config, validate
from rlvr.world.pretrain import PretrainConfig, pretrain

TINY = ["tokens=60000", "seq_len=768", "batch_size=4", "lr=3e-3", "warmup_steps=5", "log_every=5",
        "checkpoint_every=10", "model.hidden_size=32", "model.layers=2", "model.heads=2",
        "model.intermediate_size=64", "model.max_positions=768"]


def _losses(run):
    return [json.loads(l)["loss/train"] for l in (run / "metrics.jsonl").read_text().splitlines()]


def test_short_pretrain_lowers_loss_and_saves_hf_model(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "run"
    rc = main(["pretrain", *TINY, f"out={out}"])
    assert rc == 0
    losses = _losses(out)
    assert len(losses) == 4          # steps 5, 10, 15 and the last, 19
    assert losses[-1] < losses[0] - 0.8, losses           # from ~4.6 (uniform: 4.7) down past 3.8
    model = AutoModelForCausalLM.from_pretrained(out / "model")
    tok = AutoTokenizer.from_pretrained(out / "model")
    assert model.config.model_type == "llama" and model.config.hidden_size == 32
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert manifest["command"].startswith("rlvr pretrain") and manifest["tokens_trained"] == 19 * 3072
    assert manifest["config"]["model"]["layers"] == 2
    assert load_config(PretrainConfig, out / "config.yaml").tokens == 60000
    assert tok.decode(tok("12+3=\n")["input_ids"], skip_special_tokens=True) == "12+3=\n"


def test_resume_continues_the_run(tmp_path):
    out = tmp_path / "run"
    cfg = load_config(PretrainConfig, None, [*TINY, f"out={out}", "max_seconds=0.5"])
    pretrain(cfg)                         # stops early, leaving a checkpoint
    first = [json.loads(l)["step"] for l in (out / "metrics.jsonl").read_text().splitlines()]
    cfg = load_config(PretrainConfig, None, [*TINY, f"out={out}"])
    pretrain(cfg, resume=True)
    steps = [json.loads(l)["step"] for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 19      # no duplicated step, ends at the end
    assert len(first) < len(steps)


def test_update_ema_matches_the_recurrence():
    import torch

    from rlvr.world.pretrain import update_ema

    ema, seq = {}, [torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0])]
    for p in seq:
        update_ema(ema, [0.5, 0.9], [p])
    assert torch.allclose(ema[0.5][0], torch.tensor([0.5 * (0.5 * 1 + 0.5 * 3) + 0.5 * 0,
                                                     0.5 * (0.5 * -2 + 0.5 * 0) + 0.5 * 4]))
    assert torch.allclose(ema[0.9][0], 0.9 * (0.9 * seq[0] + 0.1 * seq[1]) + 0.1 * seq[2])
    assert seq[0].tolist() == [1.0, -2.0]                     # the weights themselves are untouched


def test_ema_models_are_saved_and_resumed(tmp_path):
    """An average from the last step is the last weights; one over the second half is another model;
    a run stopped and resumed saves the same averages as one run straight through."""
    import torch
    from transformers import AutoModelForCausalLM

    def weights(d):
        return torch.cat([p.flatten() for p in AutoModelForCausalLM.from_pretrained(d).parameters()])

    out = tmp_path / "run"
    main(["pretrain", *TINY, f"out={out}", "ema=[0.9]", "ema_start=0.5"])
    last, avg = weights(out / "model"), weights(out / "model_ema0.9")
    assert not torch.equal(last, avg)
    assert json.loads((out / "model_ema0.9" / "manifest.json").read_text())["ema"] == {"decay": 0.9, "from_step": 9}
    end = tmp_path / "end"
    main(["pretrain", *TINY, f"out={end}", "ema=[0.9]", "ema_start=1"])
    assert torch.equal(weights(end / "model_ema0.9"), weights(end / "model"))
    cut = tmp_path / "cut"
    pretrain(load_config(PretrainConfig, None, [*TINY, f"out={cut}", "ema=[0.9]", "ema_start=0.5", "max_seconds=0.5"]))
    pretrain(load_config(PretrainConfig, None, [*TINY, f"out={cut}", "ema=[0.9]", "ema_start=0.5"]), resume=True)
    assert torch.allclose(weights(cut / "model_ema0.9"), avg, atol=1e-6)


def test_ema_decay_out_of_range_is_a_config_error(tmp_path):
    from rlvr.config import ConfigError

    with pytest.raises(ConfigError, match="ema"):
        validate(load_config(PretrainConfig, None, [*TINY, f"out={tmp_path}", "ema=[1.0]"]))


def test_document_longer_than_block_is_an_error(tmp_path):
    cfg = load_config(PretrainConfig, None, [*TINY, "seq_len=64", f"out={tmp_path}"])
    with pytest.raises(ValueError, match="longer than seq_len"):
        pretrain(cfg)


def test_probe_matches_plain_per_token_probabilities(world_tokenizer):
    """trace_errors against a plain loop: one forward per scored token over its prefix, by role."""
    import torch

    from rlvr.world.model import ModelConfig, build_model
    from rlvr.world.probe import probe_traces, role, trace_errors

    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden_size=32, layers=2, heads=2, intermediate_size=64), world_tokenizer)
    traces = probe_traces(world_tokenizer, n=2, digits=3)
    got = trace_errors(model, traces)
    assert model.training                                    # put back as it was
    sums, total = {}, 0.0
    model.eval()
    with torch.no_grad():
        for t in traces:
            for j, r in enumerate(t.roles):
                if r is None:
                    continue
                p = model(input_ids=torch.tensor([t.ids[:j]])).logits[0, -1].softmax(-1)[t.ids[j]].item()
                sums.setdefault(r, []).append(1 - p)
                total += 1 - p if r != "style" else 0.0        # the style word is a choice, not an error
    assert set(got) == {f"probe/{r}" for r in sums} | {"probe/expected_errors"}
    for r, v in sums.items():
        assert abs(got[f"probe/{r}"] - sum(v) / len(v)) < 1e-5
    assert abs(got["probe/expected_errors"] - total / 2) < 1e-4
    split = trace_errors(model, traces, by_line=True)              # the same errors, by first and later lines
    assert abs(split["probe/expected_errors"] - got["probe/expected_errors"]) < 1e-6
    assert {k.split(" (")[0] for k in split} == set(got) and "probe/operands (first line)" not in split
    # roles of one known line: "work 745+123 5+3+0=8 c0 r8"
    line = "work 745+123 5+3+0=8 c0 r8"
    assert [role(line, line.index(c) + len(c) - 1) for c in ("w", "7", " 5", "=8", "c0", "r8")] == \
        ["style", "operands", "column digits", "sum", "carry", "running answer r"]
    assert role("1974+1902 4+2+0=6 c0 r68", 0) == "operands" and role("<answer>12</answer>", 9) == "answer"


def test_probe_is_logged_during_pretraining(tmp_path):
    out = tmp_path / "run"
    assert main(["pretrain", *TINY, f"out={out}", "probe_every=10", "probe_traces=2"]) == 0
    recs = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    probed = [r["step"] for r in recs if "probe/expected_errors" in r]
    assert probed == [10, 19]                               # every 10 steps and at the end
    assert all("loss/train" in r for r in recs)             # merged into the step's record
    assert recs[-1]["probe/operands"] > 0.5                 # an untrained model copies badly


def test_curriculum_grows_the_digits_then_shuffles(world_tokenizer):
    import numpy as np

    from rlvr.world.pretrain_data import block_order, build_corpus, curriculum_cap, make_blocks

    cfg = load_config(PretrainConfig, None, [*TINY, "curriculum=0.5", "tokens=200000"])
    assert [curriculum_cap(p, cfg) for p in (0, 19_999, 20_000, 99_999, 100_000)] == [3, 3, 4, 7, None]
    ids, mask, ordered = build_corpus(cfg, world_tokenizer)
    assert 100_000 <= ordered < 200_000
    text = world_tokenizer.decode(ids[:ordered].tolist())
    import re
    digits = [len(a) for a, b in re.findall(r"<bos>(\d+)[+-](\d+)=", text)]
    first, last = digits[:len(digits) // 5], digits[-len(digits) // 5:]
    assert max(first) <= 4 and max(digits) == 7 and sum(last) / len(last) > sum(first) / len(first) + 1
    blocks, _, k = make_blocks(ids, mask, ordered, cfg, world_tokenizer)
    n_blocks = len(blocks)
    assert n_blocks == (len(ids) - 1) // cfg.seq_len and k == -(-ordered // cfg.seq_len)
    assert (blocks[1, 0], blocks[2, -1]) == (ids[cfg.seq_len], ids[3 * cfg.seq_len])   # cut from the stream
    order = block_order(n_blocks, k, cfg)
    assert list(order[:k]) == list(range(k)) and sorted(order) == list(range(n_blocks))
    assert list(order[k:]) != sorted(order[k:])
    off = load_config(PretrainConfig, None, TINY)            # no curriculum: the plain shuffle of before
    assert list(block_order(50, 0, off)) == list(np.random.default_rng(off.seed).permutation(50))


def test_blocks_of_several_lengths_are_interleaved_evenly():
    """With blocks of several lengths the order shuffles within each length and spreads each length evenly
    over the order: every prefix holds each length in its share of the blocks, to within two blocks. A plain
    shuffle of the same blocks strays by many."""
    import numpy as np

    from rlvr.world.pretrain import block_order

    cfg = load_config(PretrainConfig, None, TINY)
    rng = np.random.default_rng(3)
    lengths = np.where(rng.random(400) < 0.25, 768, 256)               # blocks of two lengths, mixed
    lengths[:5] = 64                                                   # the curriculum's: kept first, in order
    order = block_order(400, 5, cfg, lengths)
    assert list(order[:5]) == list(range(5)) and sorted(order) == list(range(400))
    rest = order[5:]
    n_long = int((lengths[5:] == 768).sum())
    prefix = np.arange(1, 396)
    stray = np.abs(np.cumsum(lengths[rest] == 768) - prefix * n_long / 395)
    assert stray.max() <= 2.0
    plain = np.random.default_rng(cfg.seed).permutation(395) + 5
    assert np.abs(np.cumsum(lengths[plain] == 768) - prefix * n_long / 395).max() > 4
    long_order = [i for i in rest if lengths[i] == 768]
    assert long_order != sorted(long_order)                           # shuffled within its length
    assert list(block_order(50, 0, cfg, np.full(50, 256))) == list(block_order(50, 0, cfg))   # one length: as before


def test_whole_document_packing_keeps_every_document_whole(world_tokenizer):
    """``whole_documents`` packs each document, untouched, into one block; blocks start at a ``<bos>``, lose
    nothing, and pad their tails out of the loss."""
    import numpy as np

    from rlvr.world.pretrain_data import build_corpus, make_blocks, pack_documents

    tok = world_tokenizer
    bos, eos, pad = tok.bos_token_id, tok.eos_token_id, tok.pad_token_id
    # hand-made stream: documents of 5, 3, 4 and 2 tokens into blocks of 6, three open at most
    docs = [[bos, 7, 8, 9, eos], [bos, 7, eos], [bos, 8, 8, eos], [bos, eos]]
    ids = np.array([t for d in docs for t in d])
    mask = np.array([t != 9 for t in ids])                 # one token out of the loss stays out
    b, m = pack_documents(ids, mask, 6, eos, pad)
    assert b.tolist() == [[bos, 7, 8, 9, eos, pad], [bos, 7, eos, bos, eos, pad], [bos, 8, 8, eos, pad, pad]]
    assert m.tolist() == [[1, 1, 1, 0, 1, 0], [1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]]
    with pytest.raises(ValueError, match="longer than the packing block"):
        pack_documents(ids, mask, 4, eos, pad)

    cfg = load_config(PretrainConfig, None, [*TINY, "whole_documents=true", "tokens=100000"])
    ids, mask, ordered = build_corpus(cfg, tok)
    blocks, bmask, k = make_blocks(ids, mask, ordered, cfg, tok)
    assert k == 0 and blocks.shape[1] == cfg.seq_len + 1 and (blocks[:, 0] == bos).all()
    real = blocks != pad
    assert real.sum() == len(ids) and not bmask[~real].any()                  # nothing lost, padding untrained
    assert (blocks == pad).mean() < 0.02                                       # first fit leaves little padding
    docs_in = sorted(tok.decode(ids.tolist()).split("<bos>")[1:])
    docs_out = sorted(d for r in blocks for d in tok.decode(r[r != pad].tolist()).split("<bos>")[1:])
    assert docs_in == docs_out and len(docs_in) > 1000                         # the same documents, each whole


def test_doc_attention_gives_each_document_its_own_forward(world_tokenizer):
    """With ``doc_attention`` a packed block's logits for each document equal that document's forward
    alone, as at inference; without it, the second document sees the first and its logits differ."""
    import torch

    from rlvr.world.pretrain import doc_inputs
    from rlvr.world.model import ModelConfig, build_model

    torch.manual_seed(0)
    tok = world_tokenizer
    model = build_model(ModelConfig(hidden_size=32, layers=2, heads=2, intermediate_size=64), tok).eval()
    eos = [tok.eos_token_id]
    a = tok("12+34=\nwork 4+2+0=6 c0 r6")["input_ids"] + eos
    b = tok("5-3=\n<answer>2</answer>")["input_ids"] + eos
    tail = tok("9+1=10 c1 r0")["input_ids"][1:]          # the end of a document cut at the block's start
    x = torch.tensor([tail + a + b])
    inputs = doc_inputs(x, tok.bos_token_id)
    assert inputs["position_ids"][0].tolist() == [*range(len(tail)), *range(len(a)), *range(len(b))]
    with torch.inference_mode():
        packed = model(input_ids=x, **inputs).logits[0]
        plain = model(input_ids=x).logits[0]
        for doc, at in ((a, len(tail)), (b, len(tail) + len(a))):
            alone = model(input_ids=torch.tensor([doc])).logits[0]
            assert torch.allclose(packed[at:at + len(doc)], alone, atol=1e-5)
        assert not torch.allclose(plain[-len(b):], model(input_ids=torch.tensor([b])).logits[0], atol=1e-3)
        tail_alone = model(input_ids=torch.tensor([tail])).logits[0]
        assert torch.allclose(packed[:len(tail)], tail_alone, atol=1e-5)


def test_short_blocks_pack_each_document_by_length_and_fill_steps(world_tokenizer):
    """``short_blocks`` packs each document into blocks of the shortest length that holds it, reads each
    block's length back, and cuts steps where their inputs reach batch_size * seq_len tokens."""
    import numpy as np

    from rlvr.world.pretrain_data import block_lengths, pack_lengths, plan_steps

    tok = world_tokenizer
    bos, eos, pad = tok.bos_token_id, tok.eos_token_id, tok.pad_token_id
    cfg = load_config(PretrainConfig, None, [*TINY, "seq_len=8", "batch_size=2", "whole_documents=true",
                                             "short_blocks=[4]"])
    # documents of 5, 3, 4, 2 and 8 tokens: the first four fit blocks of 4 + 1 tokens, the last does not
    docs = [[bos, 7, 8, 9, eos], [bos, 7, eos], [bos, 8, 8, eos], [bos, eos], [bos, *[9] * 6, eos]]
    ids = np.array([t for d in docs for t in d])
    b, m = pack_lengths(ids, np.ones(len(ids), dtype=bool), cfg, tok)
    P = [pad] * 4
    assert b.tolist() == [[bos, 7, 8, 9, eos, *P], [bos, 7, eos, bos, eos, *P], [bos, 8, 8, eos, pad, *P],
                          [bos, *[9] * 6, eos, pad]]
    assert m.sum(1).tolist() == [5, 5, 4, 8]                                  # padding out of the loss
    lengths = block_lengths(b, cfg, pad)
    assert lengths.tolist() == [4, 4, 4, 8]
    # a step holds the blocks that start within its 16 input tokens; the order repeats when it runs out
    plan = plan_steps(np.array([3, 0, 1, 2]), lengths, cfg, total_steps=2)
    assert [p.tolist() for p in plan] == [[3, 0, 1], [2, 3, 0]]
    # one length: batch_size blocks a step, as when blocks were taken batch_size at a time
    same = plan_steps(np.array([2, 0, 1]), np.array([8, 8, 8]), cfg, total_steps=3)
    assert [p.tolist() for p in same] == [[2, 0], [1, 2], [0, 1]]
    with pytest.raises(ValueError, match="short_blocks"):
        validate(load_config(PretrainConfig, None, [*TINY, "short_blocks=[256]"]))  # needs whole_documents
    with pytest.raises(ValueError, match="short_blocks"):
        validate(load_config(PretrainConfig, None, [*TINY, "whole_documents=true", "short_blocks=[768]"]))


def test_step_loss_over_short_blocks_equals_full_length_blocks(world_tokenizer):
    """A step's loss over blocks trimmed to their lengths equals the plain mean token loss of the same
    blocks run at full length with document attention (padding after a document changes none of its
    logits), and a pretraining run with short blocks trains."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from rlvr.world.pretrain import (block_lengths, block_order, build_corpus, doc_inputs, make_blocks,
                                     plan_steps, step_loss)
    from rlvr.world.model import build_model

    tok = world_tokenizer
    cfg = load_config(PretrainConfig, None, [*TINY, "whole_documents=true", "short_blocks=[128,256]",
                                             "doc_attention=true", "tokens=30000"])
    ids, mask, ordered = build_corpus(cfg, tok)
    blocks, bmask, k = make_blocks(ids, mask, ordered, cfg, tok)
    lengths = block_lengths(blocks, cfg, tok.pad_token_id)
    assert set(lengths.tolist()) == {128, 256, 768}
    assert (blocks != tok.pad_token_id).sum() == len(ids)                   # every token packed once
    plan = plan_steps(block_order(len(blocks), k, cfg, lengths), lengths, cfg, 5)
    rows = plan[0]
    assert len(set(lengths[rows].tolist())) > 1 and lengths[rows[:-1]].sum() < 4 * 768 <= lengths[rows].sum()
    torch.manual_seed(0)
    model = build_model(cfg.model, tok).eval()
    bt, mt = torch.from_numpy(blocks.astype(np.int64)), torch.from_numpy(bmask.astype(bool))
    with torch.no_grad():
        loss, n_inputs = step_loss(model, bt, mt, rows, lengths[rows], cfg, tok)
        x, y = bt[rows, :-1], bt[rows, 1:]
        logits = model(input_ids=x, **doc_inputs(x, tok.bos_token_id)).logits
        per_token = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="none")
        ref = per_token[mt[rows, 1:].reshape(-1)].mean()
    assert n_inputs == int(lengths[rows].sum())
    assert abs(float(loss) - float(ref)) < 1e-5


def test_pretrain_with_short_blocks_lowers_loss(tmp_path):
    out = tmp_path / "run"
    rc = main(["pretrain", *TINY, "whole_documents=true", "short_blocks=[256]", "doc_attention=true", f"out={out}"])
    assert rc == 0
    losses = _losses(out)
    assert losses[-1] < losses[0] - 0.8, losses
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert 19 * 3072 <= manifest["tokens_trained"] < 19 * (3072 + 768)     # steps fill 3072 inputs, overshooting by < a block


@pytest.mark.slow
def test_compiled_pretraining_follows_the_eager_run(tmp_path):
    """``compile=true`` trains the same model through ``torch.compile`` (compiling takes about 20 s on 2
    cores, hence slow): its logged losses follow the eager run's to within float error."""
    losses = []
    for flag in ("false", "true"):
        out = tmp_path / flag
        assert main(["pretrain", *TINY, f"compile={flag}", f"out={out}"]) == 0
        losses.append(_losses(out))
    assert len(losses[0]) == len(losses[1]) > 2
    assert max(abs(a - b) for a, b in zip(*losses)) < 0.02, losses


def test_weight_column_results_weighs_each_line_result_and_nothing_else():
    from rlvr.tasks import get_task
    from rlvr.world.arithmetic_traces import arithmetic_trace
    from rlvr.world.corpus import weight_column_results

    task = get_task("arithmetic", ops="+-")
    segs = weight_column_results(arithmetic_trace(task.make(9083, "+", 4050), "stepwise", random.Random(0)), 3)
    assert [s.text for s in segs if s.weight == 3] == ["3", "13", "1", "13"]        # 3+0, 8+5, 0+0+1, 9+4
    assert all(s.weight == 1 for s in segs if s.weight != 3)
    sub = task.make(70512, "-", 8639)
    segs = arithmetic_trace(sub, "check", random.Random(3), check_layout="inline_inverse", p_line_slip=1.0,
                            verdict_weight=10, borrow_first=True)
    heavy = weight_column_results(segs, 3)
    assert [s.weight for s in heavy if s.weight not in (1, 3)] == [10] * sum(s.weight == 10 for s in segs)
    slipped = [i for i, s in enumerate(segs) if not s.train and segs[i - 1].text.endswith("=")]
    assert len(slipped) == 5 and all(heavy[i].weight == 1 for i in slipped)        # every line slips; slips stay out
    # each column's right difference, and the check's sum under every line, the slipped ones included
    assert [s.text for s in heavy if s.weight == 3] == ["11", "3", "12", "12", "7", "11", "14", "8", "15", "11",
                                                        "1", "10", "6", "6", "7"]


def test_sum_weight_reaches_the_token_mask(world_tokenizer):
    import numpy as np

    from rlvr.world.pretrain import build_corpus

    cfg = load_config(PretrainConfig, None, [*TINY, "tokens=20000", "corpus.sum_weight=3"])
    ids, mask, _ = build_corpus(cfg, world_tokenizer)
    assert set(np.unique(mask).tolist()) == {0, 1, 3}
    heavy = world_tokenizer.decode(ids[mask == 3].tolist())
    assert heavy.isdigit()
    before = [world_tokenizer.decode([int(ids[i - 1])]) for i in np.flatnonzero(mask == 3)]
    assert all(c == "=" or c.isdigit() for c in before)       # a result's first digit follows its "="


def test_weighted_verdicts_count_that_many_times_in_the_loss(world_tokenizer):
    """corpus.verdict_weight: each inline-inverse verdict's characters carry that weight in the mask, and
    the step's loss is the weighted sum of token losses over the number of trained tokens."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from rlvr.world.pretrain import build_corpus, doc_inputs, make_blocks, step_loss
    from rlvr.world.model import build_model

    tok = world_tokenizer
    cfg = load_config(PretrainConfig, None, [*TINY, "tokens=20000", "doc_attention=true",
                                             "corpus.check_layout=inline_inverse", "corpus.verdict_weight=7",
                                             "corpus.task_weights={arithmetic: 1.0}", "corpus.arithmetic_ops='+-'"])
    ids, mask, ordered = build_corpus(cfg, tok)
    assert set(np.unique(mask).tolist()) == {0, 1, 7}
    heavy = tok.decode(ids[mask == 7].tolist())
    assert heavy.replace("ok", "").replace("no", "") == "" and "no" in heavy and "ok" in heavy
    text = tok.decode(ids.tolist())
    assert heavy.count("ok") + heavy.count("no") == len(re.findall(r" vs \d+ (?:ok|no)\n", text))
    blocks, bmask, _ = make_blocks(ids, mask, ordered, cfg, tok)
    torch.manual_seed(0)
    model = build_model(cfg.model, tok).eval()
    bt, mt = torch.from_numpy(blocks.astype(np.int64)), torch.from_numpy(bmask.astype(np.uint8))
    rows = np.arange(4)
    with torch.no_grad():
        loss, _ = step_loss(model, bt, mt, rows, np.full(4, cfg.seq_len), cfg, tok)
        x, y, w = bt[rows, :-1], bt[rows, 1:], mt[rows, 1:].reshape(-1).float()
        logits = model(input_ids=x, **doc_inputs(x, tok.bos_token_id)).logits
        ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="none")
        ref = (ce * w).sum() / (w > 0).sum()
        plain = ce[w > 0].mean()
    assert abs(float(loss) - float(ref)) < 1e-5 and abs(float(loss) - float(plain)) > 1e-3
