"""An S3-compatible object store on 127.0.0.1 for the tests: moto's server in its own process,
with a bucket, and the credentials a DVC remote reads from the environment."""

from __future__ import annotations

import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.ports import free_port
from support.service_process import start_process, stop, wait_until_ready


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT
    bucket: str
    access_key: str
    secret_key: str  # made up per server: a test greps outputs for it

    @property
    def environment(self) -> dict[str, str]:
        """What `dvc push` / `dvc pull` need besides the remote's URL and endpoint."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": "us-east-1"}

    def create_bucket(self, name: str) -> None:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                     aws_secret_access_key=self.secret_key, region_name="us-east-1"
                     ).create_bucket(Bucket=name)


@contextmanager
def local_s3(folder: Path, bucket: str = "hybridrag") -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port until the block ends, with `bucket` created."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    if shutil.which("moto_server"):
        command = [shutil.which("moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    process = start_process(command, folder / "moto.log")
    server = S3Server(f"http://127.0.0.1:{port}", bucket, "test-" + secrets.token_hex(4),
                      "secret-" + secrets.token_hex(16))
    try:
        wait_until_ready(f"{server.endpoint}/moto-api/", process, timeout=60)
        server.create_bucket(bucket)
        yield server
    finally:
        stop(process)
