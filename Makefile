# The two commands a learner needs: `make tutorial` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# The tutorial runs offline on the synthetic shapes world unless told otherwise:
#   make tutorial DATASET=flickr8k
DATASET ?= shapes
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: setup course-setup tutorial test test-floors test-assignments assignments lint format bench sweep rehearsal constraints clean

setup: $(STAMP)  ## make .venv and install everything (quick when already done)

# The tested versions (constraints.txt); `make setup CONSTRAINTS=` takes the newest in range.
CONSTRAINTS ?= constraints.txt

$(STAMP): requirements.txt pyproject.toml $(CONSTRAINTS)
	@echo "Installing TensorFlow and the rest into $(VENV)/: the first time a download of about 0.8 GB"
	@echo "and about 3 GB on disk (measured: Linux x86_64, Python 3.11, 2026-11-27), a few minutes."
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e .
	touch $(STAMP)

# The course's extra (otter-grader): `make test` and the assignments need it, a learner does not.
COURSE_STAMP := $(VENV)/.course-installed

# pyproject.toml's [course] extra, installed without building the package again
COURSE_EXTRA = $$($(PY) -c "import tomllib; print(' '.join(tomllib.load(\
  open('pyproject.toml', 'rb'))['project']['optional-dependencies']['course']))")

$(COURSE_STAMP): $(STAMP) pyproject.toml $(CONSTRAINTS)
	$(PY) -m pip install -q $(COURSE_EXTRA) $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
	touch $(COURSE_STAMP)

course-setup: $(COURSE_STAMP)  ## add the [course] extra (otter-grader) to .venv

constraints:  ## after a green `make test`: record the versions it ran with
	{ sed -n '/^#/p' constraints.txt; $(PY) -m pip freeze --exclude-editable | grep -v '^caption-helpers'; } > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt

tutorial: setup  ## run every notebook in order; executed copies go to the run folder's notebooks/
	@out=$$(CAPTION_SETTINGS_FILE=none CAPTION_DATASET=$(DATASET) $(PY) -c \
	  "from helpers.settings import get_settings; print(get_settings().run_dir / 'notebooks')") \
	  && mkdir -p "$$out" || exit 1; \
	for nb in $(NOTEBOOKS); do \
	  echo "== $$nb ($(DATASET))"; start=$$(date +%s); \
	  CAPTION_SETTINGS_FILE=none CAPTION_DATASET=$(DATASET) $(PY) -m jupyter nbconvert --to notebook --execute \
	    --ExecutePreprocessor.timeout=3600 --output-dir "$$out" "$$nb" || exit 1; \
	  echo "   done in $$(( $$(date +%s) - start )) s"; \
	done; \
	echo "Executed notebooks are in $$out/ (runs/<dataset>/<encoder>/notebooks by default)"

lint: setup  ## ruff on the code and the notebooks; the notebooks are as `make format` writes them
	$(PY) -m ruff check .
	$(PY) -m tools.notebooks --check

format: setup  ## strip outputs, regenerate badges and Setup cells from helpers.runtime.REPO_URL; REF=tag pins them
	$(PY) -m tools.notebooks $(if $(REF),--ref $(REF))

test: setup course-setup lint  ## unit tests, then every notebook under nbval, on the shapes world
	CAPTION_SETTINGS_FILE=none CAPTION_DATASET=shapes $(PY) -m pytest --nbval-lax --nbval-current-env tests $(NOTEBOOKS)

# Teaching for credit (docs/course.md). Where the student bundle will be published:
#   make assignments STUDENT_URL=https://github.com/<course>/<repo> STUDENT_REF=main
STUDENT_URL ?=
STUDENT_REF ?=

assignments: course-setup  ## the course's bundles in dist/: student, autograder, instructor
	$(PY) -m course.build $(if $(STUDENT_URL),--student-url $(STUDENT_URL)) \
	  $(if $(STUDENT_REF),--student-ref $(STUDENT_REF))

test-assignments: course-setup  ## every assignment graded 3 ways; the student bundle run fresh
	CAPTION_SETTINGS_FILE=none CAPTION_DATASET=shapes COURSE_ASSIGNMENTS=all \
	  $(PY) -m pytest -p no:cacheprovider -s tests/test_course.py

# The other end of the version range: the lowest versions pyproject.toml allows (floors.txt),
# in an environment of their own, with data and run folders of their own.
FLOORS_VENV := .venv-floors
FLOORS_PY   := $(FLOORS_VENV)/bin/python
FLOORS_NOTEBOOKS := $(filter notebooks/02_% notebooks/04_% notebooks/05_% notebooks/06_%,$(NOTEBOOKS))

test-floors:  ## the lowest versions allowed (floors.txt): unit tests and notebooks 02, 04-06 (~10 min here)
	test -x $(FLOORS_PY) || $(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_PY) -m pip install -q --upgrade pip
	$(FLOORS_PY) -m pip install -q -r requirements.txt -c floors.txt -e .
	$(FLOORS_PY) -m pip freeze | grep -iE "^(tensorflow|keras|numpy)=="
	CAPTION_DATASET=shapes CAPTION_DATA_DIR=$(CURDIR)/data/ci-floors \
	  CAPTION_RUN_DIR=$(CURDIR)/runs/ci-floors/shapes-vgg-small \
	  $(FLOORS_PY) -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env \
	  --ignore=tests/test_course.py tests $(FLOORS_NOTEBOOKS)  # the course: make test-assignments

bench: setup  ## speed and memory ratios against the classic approach
	$(PY) -m benchmarks

# Resumes per instruction set (runs/sweep/<ISA>.json); `make sweep SWEEP_ARGS=--again` measures afresh.
SWEEP_ARGS ?=
sweep: setup  ## do the quality checks hold for every seed and instruction set? (about 45 min here)
	$(PY) -m benchmarks.quality_sweep $(SWEEP_ARGS)

rehearsal: setup  ## notebooks 01-06 at Flickr8k scale on stand-in images (about an hour)
	$(PY) -m benchmarks.rehearsal

clean:  ## remove the environment, caches and run artifacts (data/ is kept)
	rm -rf $(VENV) $(FLOORS_VENV) runs dist .pytest_cache .ruff_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
