# Junction: `make demo` runs the platform on the embedded default; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Test data (the shared model and footage) lives beside the checkout on project machines;
# override with your own paths elsewhere. The product itself never reads these defaults.
export JUNCTION_TEST_MODEL ?= $(abspath ../shared/models/yolox_nano.onnx)
export JUNCTION_TEST_VIDEOS ?= $(abspath ../shared/videos)

# The second test pass runs the platform on PostgreSQL with Redis (one database per region).
PG_URL ?= postgres://postgres@127.0.0.1:5432
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# PG_DB lets two checkouts test on one server at once without dropping each other's databases.
PG_DB ?= junction
PG_ENV := DATABASE_URL=$(PG_URL)/$(PG_DB)_control \
	JUNCTION_REGIONS=eu-west=$(PG_URL)/$(PG_DB)_eu_west,us-east=$(PG_URL)/$(PG_DB)_us_east \
	REDIS_URL=$(TEST_REDIS_URL) JUNCTION_TASKS_EAGER=1 JUNCTION_TEST_BACKEND=postgres

.PHONY: vendor install demo serve test test-sqlite test-postgres test-edge-image lint bench clean \
	edge-image edge-lock

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[edge,platform,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python manage.py migrate_all -v0
	# Seeding sends six weeks of batches: without DEBUG's SQL log of every query it takes a
	# quarter less CPU (bench/demo_seed.py). The server after it runs with DEBUG as usual.
	JUNCTION_DEBUG=0 $(BIN)/python manage.py demo_seed
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: test-sqlite test-postgres test-edge-image

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest -m "not edge_image"

test-postgres: $(STAMP)
	@if $(BIN)/python -c "import psycopg; psycopg.connect('$(PG_URL)/postgres', connect_timeout=3).close()" 2>/dev/null; then \
		$(PG_ENV) $(BIN)/python -m pytest tests/platform; \
	elif [ "$$JUNCTION_REQUIRE_SERVICES" = "1" ]; then \
		echo "PostgreSQL at $(PG_URL) is down and JUNCTION_REQUIRE_SERVICES=1"; exit 1; \
	else \
		echo "PostgreSQL at $(PG_URL) is not reachable: skipping the PostgreSQL pass"; \
	fi

# Front-end files from the npm registry at the versions pinned in vendor.json, with their
# licence and SHA-256 recorded there; `make lint` checks the files still match.
vendor:
	$(PYTHON) tools/vendor.py

lint: $(STAMP)
	$(BIN)/python tools/vendor.py --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# --- The edge image (edge_worker/Dockerfile), built with buildah ------------------------------
# Public registries are out of reach on the project's machines, so the base is a Debian image
# made here with mmdebstrap from the package mirror (Python, venv, the libraries OpenCV needs).
# Elsewhere: `make edge-image EDGE_BASE=python:3.11-slim` (the Dockerfile's own default).
EDGE_BASE_PACKAGES := python3,python3-venv,libglib2.0-0,libgomp1,ca-certificates
EDGE_BASE_OPTS := --variant=apt --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
	--include=$(EDGE_BASE_PACKAGES) \
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--customize-hook='rm -rf "$$1"/var/lib/apt/lists/* "$$1"/var/cache/apt/*'
comma := ,
shell-quote = '$(subst ','\'',$(1))'
EDGE_LOCAL_BASE := localhost/junction-edge-base:bookworm-$(shell \
	echo $(call shell-quote,$(EDGE_BASE_OPTS)) | sha256sum | cut -c1-12)
EDGE_BASE ?= $(EDGE_LOCAL_BASE)
# The image's tag is a hash of all the build reads (and of the base), so an unchanged checkout
# reuses the image and any change to the Dockerfile, the lock or the edge sources builds anew;
# buildah's layer cache then redoes only the steps after the change.
EDGE_IMAGE_INPUTS = edge_worker/Dockerfile .dockerignore requirements/edge.lock pyproject.toml \
	README.md $(shell find edge_worker -type f -not -path '*/__pycache__/*' | LC_ALL=C sort)
EDGE_IMAGE ?= localhost/junction-edge:$(shell (echo '$(EDGE_BASE)'; \
	sha256sum $(EDGE_IMAGE_INPUTS)) | sha256sum | cut -c1-16)
# pip inside the build trusts the host's CA bundle (a TLS-intercepting proxy's CA included); it
# is handed to the build as a secret, so it ends up in no layer.
EDGE_PIP_CA ?= $(firstword $(PIP_CERT) $(wildcard /etc/ssl/certs/ca-certificates.crt))

edge-image:
	@if buildah inspect --type image $(EDGE_IMAGE) >/dev/null 2>&1; then \
		echo "edge image $(EDGE_IMAGE) is up to date"; exit 0; fi; \
	set -e; \
	if [ "$(EDGE_BASE)" = "$(EDGE_LOCAL_BASE)" ] \
		&& ! buildah inspect --type image $(EDGE_BASE) >/dev/null 2>&1; then \
		echo "making the base image $(EDGE_BASE) with mmdebstrap"; \
		tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
		mmdebstrap --quiet $(EDGE_BASE_OPTS) bookworm "$$tmp/rootfs.tar" >"$$tmp/log" 2>&1 \
			|| { cat "$$tmp/log"; exit 1; }; \
		podman import --quiet "$$tmp/rootfs.tar" $(EDGE_BASE) >/dev/null; \
	fi; \
	echo "building $(EDGE_IMAGE) on $(EDGE_BASE)"; \
	buildah bud --quiet --isolation chroot --layers --format docker \
		$(if $(EDGE_PIP_CA),--secret id=pip-ca$(comma)src=$(EDGE_PIP_CA)) \
		--build-arg BASE=$(EDGE_BASE) -f edge_worker/Dockerfile -t $(EDGE_IMAGE) . >/dev/null; \
	buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' $(EDGE_IMAGE)

# The smoke and contract tests of the built image (tests/edge_image). Without buildah they skip
# with the reason, or fail when JUNCTION_REQUIRE_SERVICES=1 (CI, which installs the tools).
test-edge-image: $(STAMP)
	@if command -v buildah >/dev/null 2>&1; then $(MAKE) --no-print-directory edge-image; fi
	JUNCTION_EDGE_IMAGE=$(EDGE_IMAGE) $(BIN)/python -m pytest -m edge_image tests/edge_image

# requirements/edge.lock: the edge extra's packages pinned with their hashes, for every platform
# (amd64 and arm64 wheels alike), which the image installs and nothing else.
edge-lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra edge --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command "make edge-lock" --quiet \
		-o requirements/edge.lock

# Benchmarks print their figures (and a baseline measured in the same run); they are not tests.
bench: $(STAMP)
	$(BIN)/python bench/edge.py --metamorphic
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest.py --backfill
	$(BIN)/python bench/batch_parse.py
	@if command -v buildah >/dev/null 2>&1; then $(MAKE) --no-print-directory edge-image \
		&& $(BIN)/python bench/edge_image.py $(EDGE_IMAGE); fi
	$(BIN)/python bench/anomalies.py
	$(BIN)/python bench/rollups.py
	$(BIN)/python bench/api.py

clean:
	rm -rf var .pytest_cache
