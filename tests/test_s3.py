"""The S3 client: Signature V4 against AWS's published examples, then the real
SeaweedFS gateway over HTTPS with the run's CA (and refused without it)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.platform.local.context import RunUser, StackContext
from harness.platform.local.ports import pick_free_ports, port_is_listening
from harness.platform.local.seaweedfs import S3Credentials, SeaweedFS, SeaweedGrpcPorts
from harness.s3 import S3Client, S3Error, sign_v4

# From the "Signature Calculations for the Authorization Header" examples of the
# Amazon S3 API reference (example credentials, fixed date).
AWS_EXAMPLE_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_sign_v4_matches_aws_get_object_example() -> None:
    authorization = sign_v4(
        method="GET",
        host="examplebucket.s3.amazonaws.com",
        path="/test.txt",
        query={},
        headers={"Range": "bytes=0-9"},
        payload_sha256=EMPTY_SHA256,
        access_key=AWS_EXAMPLE_KEY,
        secret_key=AWS_EXAMPLE_SECRET,
        region="us-east-1",
        amz_date="20130524T000000Z",
    )
    assert authorization == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_sign_v4_matches_aws_list_objects_example() -> None:
    authorization = sign_v4(
        method="GET",
        host="examplebucket.s3.amazonaws.com",
        path="/",
        query={"max-keys": "2", "prefix": "J"},
        headers={},
        payload_sha256=EMPTY_SHA256,
        access_key=AWS_EXAMPLE_KEY,
        secret_key=AWS_EXAMPLE_SECRET,
        region="us-east-1",
        amz_date="20130524T000000Z",
    )
    assert authorization.endswith(
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    )


def test_s3_error_is_a_harness_error_naming_bucket_and_key() -> None:
    with (
        S3Client("https://127.0.0.1:1", "k", "s", "us-east-1", ca_file=None) as client,
        pytest.raises(S3Error, match=r"s3://attachments/a\.txt") as caught,
    ):
        client.get_object("attachments", "a.txt")
    assert isinstance(caught.value, HarnessError)
    assert caught.value.status is None
    assert caught.value.key == "a.txt"


@pytest.fixture(scope="module")
def seaweed() -> Iterator[SeaweedFS]:
    run_dir = Path(tempfile.mkdtemp(prefix="odoo-res-"))
    os.chmod(run_dir, 0o755)
    # No cgroups: this test is about the S3 protocol, not node faults.
    ctx = StackContext(f"s3-{uuid.uuid4().hex[:8]}", run_dir, None, RunUser.for_db_tier())
    ports = pick_free_ports(8)
    component = SeaweedFS(
        ctx,
        "node-s",
        s3_port=ports[0],
        master_port=ports[1],
        volume_port=ports[2],
        filer_port=ports[3],
        credentials=S3Credentials.generate(),
        grpc_ports=SeaweedGrpcPorts(*ports[4:]),
    )
    try:
        component.start()
        yield component
    finally:
        component.stop()
        shutil.rmtree(run_dir)
    assert [p for p in ports if port_is_listening(p)] == []


@pytest.mark.integration
def test_objects_round_trip_over_https_with_the_run_ca(seaweed: SeaweedFS) -> None:
    access = seaweed.access
    with S3Client.from_access(access) as s3:
        assert set(s3.list_buckets()) >= {"attachments", "backups"}
        assert s3.head_bucket("attachments")
        assert not s3.head_bucket("no-such-bucket")
        s3.create_bucket("attachments")  # already ours: fine

        body = os.urandom(200_000)
        etag = s3.put_object("attachments", "ir_attachment/1f/1f2e with space é.bin", body)
        assert etag
        s3.put_object("attachments", "ir_attachment/2a/second", b"two")
        s3.put_object("attachments", "other/third", b"three")
        assert s3.get_object("attachments", "ir_attachment/1f/1f2e with space é.bin") == body

        listed = s3.list_objects("attachments", "ir_attachment/")
        assert sorted((o.key, o.size) for o in listed) == [
            ("ir_attachment/1f/1f2e with space é.bin", 200_000),
            ("ir_attachment/2a/second", 3),
        ]

        s3.delete_object("attachments", "ir_attachment/2a/second")
        with pytest.raises(S3Error, match="404") as caught:
            s3.get_object("attachments", "ir_attachment/2a/second")
        assert caught.value.status == 404
        assert caught.value.bucket == "attachments"


@pytest.mark.integration
def test_wrong_secret_is_refused(seaweed: SeaweedFS) -> None:
    access = seaweed.access
    with (
        S3Client(
            access.url, access.access_key, "not-the-secret", access.region, ca_file=access.ca_file
        ) as s3,
        pytest.raises(S3Error, match="403") as caught,
    ):
        s3.list_objects("attachments")
    assert caught.value.status == 403


@pytest.mark.integration
def test_tls_verification_fails_without_the_run_ca(seaweed: SeaweedFS) -> None:
    access = seaweed.access
    with (
        S3Client(
            access.url, access.access_key, access.secret_key, access.region, ca_file=None
        ) as s3,
        pytest.raises(S3Error, match="CERTIFICATE_VERIFY_FAILED") as caught,
    ):
        s3.head_bucket("attachments")
    assert caught.value.status is None
