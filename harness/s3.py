"""A small S3 client: path-style requests over httpx, signed with AWS Signature V4.

Used by the local platform (bucket creation, readiness), by the tests, and by the
Odoo double for attachments. It speaks only what those need: buckets (list, head,
create) and objects (put, get, delete, list). Every failure, transport or HTTP,
becomes an ``S3Error`` naming the bucket, key and status.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import quote, urlsplit

import httpx

from harness.errors import HarnessError
from harness.platform.endpoints import S3Access

ALGORITHM = "AWS4-HMAC-SHA256"
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class S3Error(HarnessError):
    """An S3 request failed; ``status`` is None when no HTTP response came back."""

    def __init__(self, message: str, *, bucket: str, key: str | None, status: int | None) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key
        self.status = status


@dataclass(frozen=True)
class S3Object:
    """One entry of a bucket listing."""

    key: str
    size: int
    etag: str


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _uri_encode(value: str, *, keep_slash: bool) -> str:
    return quote(value, safe="/~" if keep_slash else "~")


def sign_v4(
    *,
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    amz_date: str,
) -> str:
    """The ``Authorization`` header value of an S3 request (Signature V4).

    ``path`` is the unencoded object path (``/bucket/key``); ``headers`` are the
    extra headers to sign besides ``host``, ``x-amz-date`` and ``x-amz-content-sha256``.
    """
    signed = {k.lower(): " ".join(v.strip().split()) for k, v in headers.items()}
    signed.update({"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256})
    names = sorted(signed)
    canonical_query = "&".join(
        f"{_uri_encode(k, keep_slash=False)}={_uri_encode(v, keep_slash=False)}"
        for k, v in sorted(query.items())
    )
    canonical_request = "\n".join(
        [
            method,
            _uri_encode(path, keep_slash=True),
            canonical_query,
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    date = amz_date[:8]
    scope = f"{date}/{region}/s3/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, _sha256_hex(canonical_request.encode())]
    )
    key = _hmac(f"AWS4{secret_key}".encode(), date)
    for part in (region, "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )


class S3Client:
    """Path-style S3 over HTTPS (or HTTP), verifying the server against ``ca_file``.

    With ``ca_file=None`` the system trust store is used, which does not know the
    run's own CA: that is how a test proves verification is really on.
    """

    def __init__(
        self,
        url: str,
        access_key: str,
        secret_key: str,
        region: str,
        *,
        ca_file: str | None,
        timeout_s: float = 10.0,
    ) -> None:
        self._url = url.rstrip("/")
        self._host = urlsplit(self._url).netloc
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        verify = ssl.create_default_context(cafile=ca_file)
        self._http = httpx.Client(verify=verify, timeout=timeout_s)

    @staticmethod
    def from_access(access: S3Access, timeout_s: float = 10.0) -> S3Client:
        return S3Client(
            access.url,
            access.access_key,
            access.secret_key,
            access.region,
            ca_file=access.ca_file,
            timeout_s=timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> S3Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- buckets ------------------------------------------------------------------
    def list_buckets(self) -> list[str]:
        response = self._request("GET", "", None)
        root = ET.fromstring(response.content)
        return [el.text or "" for el in root.iter(f"{_NS}Name")]

    def head_bucket(self, bucket: str) -> bool:
        """True when the bucket exists, False on 404."""
        response = self._request("HEAD", bucket, None, ok_missing=True)
        return response.status_code != 404

    def create_bucket(self, bucket: str) -> None:
        """Create ``bucket``; a bucket this identity already owns is fine."""
        response = self._request("PUT", bucket, None, ok_codes=("BucketAlreadyOwnedByYou",))
        response.close()

    # -- objects ------------------------------------------------------------------
    def put_object(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> str:
        """Store ``data``; returns the ETag."""
        response = self._request(
            "PUT", bucket, key, body=data, headers={"content-type": content_type}
        )
        return str(response.headers.get("etag", "")).strip('"')

    def get_object(self, bucket: str, key: str) -> bytes:
        return self._request("GET", bucket, key).content

    def delete_object(self, bucket: str, key: str) -> None:
        self._request("DELETE", bucket, key)

    def list_objects(self, bucket: str, prefix: str = "") -> list[S3Object]:
        """Every object under ``prefix`` (follows continuation tokens)."""
        found: list[S3Object] = []
        token: str | None = None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token is not None:
                query["continuation-token"] = token
            root = ET.fromstring(self._request("GET", bucket, None, query=query).content)
            for item in root.iter(f"{_NS}Contents"):
                found.append(
                    S3Object(
                        key=item.findtext(f"{_NS}Key", ""),
                        size=int(item.findtext(f"{_NS}Size", "0")),
                        etag=item.findtext(f"{_NS}ETag", "").strip('"'),
                    )
                )
            if root.findtext(f"{_NS}IsTruncated", "false") != "true":
                return found
            token = root.findtext(f"{_NS}NextContinuationToken")

    # -- transport ----------------------------------------------------------------
    def _request(
        self,
        method: str,
        bucket: str,
        key: str | None,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        ok_missing: bool = False,
        ok_codes: tuple[str, ...] = (),
    ) -> httpx.Response:
        path = "/" + bucket + ("/" + key if key is not None else "")
        query = query or {}
        payload_sha256 = _sha256_hex(body)
        amz_date = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        extra = dict(headers or {})
        authorization = sign_v4(
            method=method,
            host=self._host,
            path=path,
            query=query,
            headers=extra,
            payload_sha256=payload_sha256,
            access_key=self._access_key,
            secret_key=self._secret_key,
            region=self._region,
            amz_date=amz_date,
        )
        url = self._url + _uri_encode(path, keep_slash=True)
        if query:
            url += "?" + "&".join(
                f"{_uri_encode(k, keep_slash=False)}={_uri_encode(v, keep_slash=False)}"
                for k, v in sorted(query.items())
            )
        send_headers = {
            **extra,
            "host": self._host,
            "x-amz-date": amz_date,
            "x-amz-content-sha256": payload_sha256,
            "authorization": authorization,
        }
        where = f"s3://{bucket}/{key}" if key is not None else f"s3://{bucket or ''}"
        try:
            response = self._http.request(method, url, content=body, headers=send_headers)
        except httpx.HTTPError as exc:
            raise S3Error(
                f"{method} {where} at {self._url}: expected an HTTP response, got "
                f"{type(exc).__name__}: {exc}. Check that the S3 gateway runs and that its "
                "certificate is signed by the CA file given to the client.",
                bucket=bucket,
                key=key,
                status=None,
            ) from exc
        if response.is_success or (ok_missing and response.status_code == 404):
            return response
        code, message = _error_of(response)
        if code in ok_codes:
            return response
        raise S3Error(
            f"{method} {where} at {self._url}: expected 2xx, got {response.status_code} "
            f"{code or ''} {message or ''}".rstrip()
            + ". Check the bucket exists and the access key may use it.",
            bucket=bucket,
            key=key,
            status=response.status_code,
        )


def _error_of(response: httpx.Response) -> tuple[str | None, str | None]:
    """S3's error ``Code`` and ``Message`` from the XML body, when there is one."""
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError:
        return None, None
    return root.findtext("Code"), root.findtext("Message")
