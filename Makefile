# The two commands a newcomer needs: `make run` and `make test`. See README.md.
PORT ?= 8000
PY := .venv/bin/python

.PHONY: run test install install-test bench-upload bench-stream bench-request-cpu bench-transcode lint clean

run: install
	$(PY) scripts/run_stack.py --port $(PORT)

test: install-test lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Rules and exceptions are in pyproject.toml ([tool.ruff]); ruff is pinned in requirements.lock.
lint: install-test
	$(PY) -m ruff check .

install:
	@scripts/bootstrap.sh run

install-test:
	@scripts/bootstrap.sh test

bench-upload: install-test
	$(PY) benchmarks/bench_upload.py

bench-stream: install-test
	$(PY) benchmarks/bench_stream.py

bench-transcode: install-test
	$(PY) benchmarks/bench_transcode.py

bench-request-cpu: install-test
	$(PY) benchmarks/bench_request_cpu.py

clean:
	rm -rf var/run var/redis
