"""The project's settings, with the stock-upload baseline URL added (bench_upload.py)."""

from project.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.stock_upload"
