"""SFT: the completion-only targets, packing, the block-diagonal mask, and short real runs."""
import json
import sys

import pytest
import torch

from rlvr.config import ConfigError, load_config
from rlvr.train.sft import SFTConfig, sft_loss, step_examples, train_sft
from rlvr.train.sft_data import IGNORE, Example, collate, encode, load_pairs, pack, targets


def sums(n: int) -> list[tuple[str, str]]:
    return [(f"{a}+{a + 3}=\n", f"<answer>{2 * a + 3}</answer>") for a in range(10, 10 + n)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pairs.jsonl"
    path.write_text("".join(json.dumps({"prompt": p, "completion": c}) + "\n" for p, c in sums(24)))
    return path


def test_completion_only_targets(world_tokenizer):
    ex = encode(world_tokenizer, "12+34=\n", "<answer>46</answer>")
    tid = world_tokenizer.convert_tokens_to_ids
    prompt = [tid("<bos>")] + [tid(c) for c in "12+34=\n"]
    completion = [tid("<answer>"), tid("4"), tid("6"), tid("</answer>"), tid("<eos>")]
    assert ex.ids == prompt + completion and ex.n_prompt == 8
    # position t predicts token t+1; only completion tokens (EOS included) are targets
    assert targets(ex) == [IGNORE] * 7 + completion + [IGNORE]
    assert targets(Example([5, 6, 7], 1)) == [6, 7, IGNORE]


def test_pack_first_fit_decreasing():
    assert pack([5, 3, 8, 2, 4], 10) == [[2, 3], [0, 4], [1]]
    assert pack([4, 4, 4], 4) == [[0], [1], [2]]
    with pytest.raises(ValueError, match="more than block_len=4"):
        pack([5], 4)


def test_collate_positions_labels_and_mask():
    exs = [Example([1, 11, 12], 2), Example([1, 21], 1), Example([1, 31, 32, 33], 1)]
    b = collate(exs, [[0, 1], [2]], pad_id=0)
    assert b["input_ids"].tolist() == [[1, 11, 12, 1, 21], [1, 31, 32, 33, 0]]
    assert b["position_ids"].tolist() == [[0, 1, 2, 0, 1], [0, 1, 2, 3, 0]]
    assert b["labels"].tolist() == [[IGNORE, 12, IGNORE, 21, IGNORE], [31, 32, 33, IGNORE, IGNORE]]
    allowed = (b["attention_mask"][:, 0] == 0).int().tolist()
    assert allowed[0] == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 1, 1]]
    assert allowed[1] == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [0, 0, 0, 0, 1]]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_forward_equals_separate_forwards(tiny_model, world_tokenizer, attn):
    pairs = sums(3) + [("5-3=\n", "work 5-3 5-3-0=2 r2\n<answer>2</answer>"), ("9*9=\n", "<answer>81</answer>")]
    exs = [encode(world_tokenizer, p, c) for p, c in pairs]
    blocks = pack([len(e.ids) for e in exs], 64)
    assert len(blocks) < len(exs)                            # something was packed
    b = collate(exs, blocks, world_tokenizer.pad_token_id)
    old = tiny_model.config._attn_implementation
    tiny_model.config._attn_implementation = attn
    try:
        with torch.no_grad():
            packed = tiny_model(input_ids=b["input_ids"], position_ids=b["position_ids"],
                                attention_mask=b["attention_mask"]).logits
            for r, block in enumerate(blocks):
                at = 0
                for i in block:
                    n = len(exs[i].ids)
                    alone = tiny_model(input_ids=torch.tensor([exs[i].ids])).logits[0]
                    assert torch.allclose(packed[r, at:at + n], alone, atol=1e-5), (attn, i)
                    at += n
    finally:
        tiny_model.config._attn_implementation = old


def test_packed_loss_and_gradient_equal_unpacked(tiny_model, world_tokenizer):
    import copy

    exs = [encode(world_tokenizer, p, c) for p, c in sums(6)]
    n_targets = sum(len(e.ids) - e.n_prompt for e in exs)

    def loss_and_grad(blocks):
        model = copy.deepcopy(tiny_model)
        loss = sft_loss(model, collate(exs, blocks, world_tokenizer.pad_token_id), n_targets)
        loss.backward()
        return float(loss.detach()), torch.cat([p.grad.flatten() for p in model.parameters()])

    packed = loss_and_grad(pack([len(e.ids) for e in exs], 64))
    single = loss_and_grad([[i] for i in range(len(exs))])
    assert packed[0] == pytest.approx(single[0], abs=1e-5)
    assert torch.allclose(packed[1], single[1], atol=1e-6)


def test_step_examples_walk_one_permutation_per_epoch():
    first = [i for s in range(3) for i in step_examples(6, 2, seed=1, step=s)]
    assert sorted(first) == list(range(6))
    assert step_examples(6, 4, seed=1, step=1)[:2] == first[4:]            # steps cross the epoch's end
    assert sorted(step_examples(6, 4, seed=1, step=1)[2:] + step_examples(6, 4, seed=1, step=2)) == list(range(6))
    assert step_examples(6, 2, seed=1, step=0) == step_examples(6, 2, seed=1, step=0)
    assert [step_examples(6, 6, seed=s, step=0) for s in (1, 2)][0] != step_examples(6, 6, seed=2, step=0)


def _cfg(tiny_dir, data, out, steps, *extra):
    return load_config(SFTConfig, None, [f"model={tiny_dir}", f"data={data}", f"out={out}", f"steps={steps}",
                                         "batch_size=8", "lr=3e-3", "warmup_steps=1", "block_len=64",
                                         "microbatch_size=2", "eval_every=2", "eval_problems=3",
                                         "sampling.max_new_tokens=6", "eval_greedy=false", "checkpoint_every=1",
                                         "task.kwargs={ops: '+', min_digits: 2, max_digits: 2}", *extra])


def _records(run):
    return [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]


def test_sft_lowers_the_loss_and_resumes_exactly(tmp_path, tiny_dir, data):
    from safetensors.torch import load_file

    train_sft(_cfg(tiny_dir, data, tmp_path / "full", 6))
    full = _records(tmp_path / "full")
    assert [r["step"] for r in full] == [1, 2, 3, 4, 5, 6]
    losses = [r["loss/train"] for r in full]
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 0.9 * losses[0]
    assert "eval/accuracy" in full[1] and "eval/readable" in full[1] and "eval/accuracy" not in full[0]
    assert full[0]["train/rows"] < 8 and 0 < full[0]["train/pack_fill"] <= 1       # packed
    assert (tmp_path / "full" / "final" / "config.json").exists()

    class Stop(Exception):
        pass

    def stop_after_3(step, rec):
        if step == 3:
            raise Stop

    part = tmp_path / "part"                              # the same run stopped after step 3, then resumed
    with pytest.raises(Stop):
        train_sft(_cfg(tiny_dir, data, part, 6), on_step=stop_after_3)
    train_sft(_cfg(tiny_dir, data, part, 6), resume=True)
    resumed = _records(part)
    assert [r["step"] for r in resumed] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(full, resumed):
        for k in ("loss/train", "loss/grad_norm", "train/lr", "eval/mean_tokens"):
            assert a.get(k) == b.get(k), (a["step"], k)
    w1 = load_file(tmp_path / "full" / "final" / "model.safetensors")
    w2 = load_file(part / "final" / "model.safetensors")
    assert all(torch.equal(w1[k], w2[k]) for k in w1)

    # one example per row trains the same as packed blocks (to float error)
    train_sft(_cfg(tiny_dir, data, tmp_path / "rows", 2, "pack=false"))
    rows = _records(tmp_path / "rows")
    assert rows[0]["train/rows"] == 8
    assert rows[1]["loss/train"] == pytest.approx(full[1]["loss/train"], rel=1e-4)


def test_data_from_parquet_and_a_saved_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"q": ["1+1=\n", "2+2=\n"], "a": ["<answer>2</answer>", "<answer>4</answer>"]})
    ds.to_parquet(str(tmp_path / "d.parquet"))
    ds.save_to_disk(str(tmp_path / "saved"))
    want = [("1+1=\n", "<answer>2</answer>"), ("2+2=\n", "<answer>4</answer>")]
    assert load_pairs(str(tmp_path / "d.parquet"), prompt_field="q", completion_field="a") == want
    assert load_pairs(str(tmp_path / "saved"), prompt_field="q", completion_field="a", max_examples=1) == want[:1]
    with pytest.raises(ConfigError, match=r"^data: .*row 0: missing field 'prompt'"):
        load_pairs(str(tmp_path / "saved"))


def test_parquet_without_pyarrow_is_one_clear_error(tmp_path, monkeypatch):
    (tmp_path / "d.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ConfigError) as e:
        load_pairs(str(tmp_path / "d.parquet"))
    assert str(e.value).startswith("data: reading ") and "needs pyarrow, which is not installed" in str(e.value)
