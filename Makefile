# Two commands do everything on a fresh CPU machine:  `make demo` (the main job: a 60-s video from the shipped
# tiny model, samples/demo/*.mp4)  and  `make test`.  `make demo PROMPT="a camera pans ..."` picks the prompt.
# Each creates .venv and installs the pinned CPU stack the first time (about 90 s), then acts.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PIP     := $(BIN)/pip install --no-cache-dir --disable-pip-version-check -q
export PIP_CONSTRAINT := $(CURDIR)/requirements/constraints.txt
DEMO_ARGS ?=
PROMPT ?=
PYTEST_ARGS ?=

.PHONY: install test demo clean

install: $(STAMP)

$(STAMP): requirements/base.txt requirements/nodeps.txt requirements/constraints.txt setup.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) -c requirements/constraints.txt -r requirements/base.txt
	$(PIP) --no-deps -r requirements/nodeps.txt
	$(PIP) --no-deps -e .
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python scripts/inference.py configs/pavdm/infer_60s_tiny.py --save-dir samples/demo \
		$(if $(PROMPT),--prompt "$(PROMPT)") $(DEMO_ARGS)

clean:
	rm -rf $(VENV) samples outputs
