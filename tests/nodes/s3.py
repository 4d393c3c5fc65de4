"""moto's standalone server as the S3 stand-in (as tests/fakes stand in for FCM and APNs), started per test."""

import sys

import boto3
import pytest

from tests.procs import Process, base_env, free_port, wait_for_port

REGION = "us-east-1"


class S3StandIn:
    """`python -m moto.server` on a free port, with one bucket; env() is what a node needs to use it."""

    def __init__(self, log_dir, bucket="kilopush-media"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.bucket = bucket
        self.process = Process([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                               base_env(), log_dir / f"moto-{self.port}.log")
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise AssertionError("moto did not start:\n" + self.process.log()) from None
        self.client = boto3.client("s3", endpoint_url=self.url, region_name=REGION,
                                   aws_access_key_id="stand-in", aws_secret_access_key="stand-in")
        self.client.create_bucket(Bucket=bucket)

    def env(self):
        return {"STORAGE_S3_BUCKET": self.bucket, "STORAGE_S3_ENDPOINT_URL": self.url, "STORAGE_S3_REGION": REGION,
                "STORAGE_S3_ACCESS_KEY_ID": "stand-in", "STORAGE_S3_SECRET_ACCESS_KEY": "stand-in"}

    def keys(self):
        return sorted(o["Key"] for o in self.client.list_objects_v2(Bucket=self.bucket).get("Contents", []))

    def get(self, key):
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def stop(self):
        self.process.kill()


@pytest.fixture
def s3(tmp_path):
    """An S3StandIn for one test (import this fixture where it is used)."""
    server = S3StandIn(tmp_path)
    yield server
    server.stop()
