# Two commands matter on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo up test test-under-load unit lint validate build deploy clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml layers/common/requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	# The CommonLayer's wheels, for `sam build` in the twin's CodeBuild (pip is offline there).
	$(BIN)/pip download --quiet --no-deps --require-hashes --only-binary=:all: \
	    --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp \
	    -r layers/common/requirements.txt -d $(VENV)/wheelhouse
	touch $(STAMP)

install: $(STAMP)

## The main job: the whole loop, offline, for real.
demo: $(STAMP)
	$(BIN)/mlops local demo

## Keep the local cloud up on 127.0.0.1:4566 for any AWS client.
up: $(STAMP)
	$(BIN)/mlops local up

## Everything CI runs: ruff, sam validate --lint, sam build, every test suite.
test: $(STAMP) lint validate build
	$(BIN)/pytest -q

## The e2e suite (LOAD_TESTS) while stress-ng keeps HOG_CPUS cores busy: a verdict must not
## depend on the machine's load. Installs stress-ng with apt-get when run as root.
HOG_CPUS ?= 2
LOAD_TESTS ?= tests/e2e
test-under-load: $(STAMP)
	@command -v stress-ng >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing stress-ng from the Debian packages ..."; \
	    apt-get update -qq && apt-get install -y -qq stress-ng >/dev/null; \
	  else \
	    echo "make test-under-load needs stress-ng: install it (Debian/Ubuntu:" \
	         "sudo apt-get install stress-ng) and run it again." >&2; exit 1; \
	  fi; }
	@stress-ng --cpu $(HOG_CPUS) --timeout 3h --quiet & hog=$$!; \
	  trap 'kill $$hog 2>/dev/null; wait $$hog 2>/dev/null' EXIT; \
	  echo "stress-ng --cpu $(HOG_CPUS) is running (pid $$hog); pytest $(LOAD_TESTS)"; \
	  $(BIN)/pytest -q $(LOAD_TESTS)

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit tests/workflows

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

validate: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/sam validate --lint --template template.yaml
	$(BIN)/cfn-lint codepipeline.yaml

build: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/sam build --template template.yaml --parallel --cached

deploy: build
	$(BIN)/sam deploy --guided --config-env $(or $(ENV),dev)

clean:
	rm -rf .aws-sam .pytest_cache
