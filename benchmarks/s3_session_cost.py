"""What one boto3 Session and S3 resource cost to build: what django-storages' S3Storage makes
for every thread that touches it (media_pipeline/storage.py `s3_client` explains why the project shares one client).

    .venv/bin/python benchmarks/s3_session_cost.py

Builds 20 in a row, as 20 threads' first S3 calls would, and prints the mean time and resident
memory each. Nothing is sent: the endpoint is a closed loopback port.
"""

from __future__ import annotations

import time
from pathlib import Path

import boto3

COUNT = 20


def resident_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0])


def main() -> None:
    options = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "y",
               "endpoint_url": "http://127.0.0.1:9"}
    boto3.session.Session().client("s3", **options)  # imports and the first load, untimed
    kept = []  # alive, as a thread's would be
    before, started = resident_kib(), time.perf_counter()
    for _ in range(COUNT):
        kept.append(boto3.session.Session().resource("s3", **options))
    seconds = (time.perf_counter() - started) / COUNT
    grown = (resident_kib() - before) / COUNT / 1024
    print(f"one boto3 Session + S3 resource: {seconds * 1000:.0f} ms and {grown:.1f} MiB each "
          f"({COUNT} in a row)")


if __name__ == "__main__":
    main()
