"""End to end: real runworker processes serve Django views through the
WSGI interface under gunicorn, on the database backend (SQLite, and
PostgreSQL when CHANNELS_TEST_POSTGRES is set)."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
import requests

from ..deployment import Deployment

BACKENDS = ["sqlite"]
if os.environ.get("CHANNELS_TEST_POSTGRES"):
    BACKENDS.append("postgres")


@pytest.fixture(scope="module", params=BACKENDS)
def site(request, tmp_path_factory):
    env = {"CHANNELS_TEST_DB": request.param}
    deployment = Deployment(tmp_path_factory.mktemp(f"wsgi-{request.param}"), **env)
    try:
        deployment.start_worker()
        deployment.start_worker()
        deployment.start_wsgi()
        yield deployment
    finally:
        deployment.stop()


def test_get_with_query_string_and_cookie(site):
    response = requests.get(site.url("/echo-get/?a=1&a=2&b=%C3%A9t%C3%A9"), timeout=30)
    assert response.status_code == 200
    assert response.json() == {"a": ["1", "2"], "b": ["été"]}

    hello = requests.get(site.url("/hello/"), timeout=30)
    assert hello.status_code == 200
    assert hello.content == b"Hello, channels!"
    assert hello.headers["Content-Type"] == "text/plain"
    assert hello.cookies["greeted"] == "yes"


def test_post_form_with_cookies(site):
    response = requests.post(
        site.url("/form/"),
        data={"name": "Zoë", "tags": ["a", "b"]},
        cookies={"flavour": "oat"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json() == {
        "method": "POST",
        "post": {"name": ["Zoë"], "tags": ["a", "b"]},
        "cookies": {"flavour": "oat"},
    }


def test_file_upload_crossing_several_body_chunks(site):
    data = os.urandom(3 * 1024 * 1024 + 17)  # several 256 KiB chunks, spooled to disk
    response = requests.post(
        site.url("/upload/"),
        files={"file": ("blob.bin", data)},
        data={"title": "three megabytes"},
        timeout=60,
    )
    assert response.status_code == 200
    assert response.json() == {
        "name": "blob.bin",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "title": "three megabytes",
    }


def test_streaming_response_arrives_whole_and_in_order(site):
    response = requests.get(site.url("/stream/?n=2000"), timeout=30)
    assert response.status_code == 200
    assert response.content == b"".join(f"line {i}\n".encode() for i in range(2000))


def test_file_response_of_several_chunks(site):
    size = 1_500_000
    response = requests.get(site.url(f"/file/?size={size}"), timeout=30)
    assert response.status_code == 200
    assert response.content == bytes(i % 251 for i in range(size))


def test_not_found_and_server_error(site):
    missing = requests.get(site.url("/nowhere/"), timeout=30)
    assert missing.status_code == 404
    broken = requests.get(site.url("/boom/"), timeout=30)
    assert broken.status_code == 500
    # The view's exception reached the worker's stderr, and workers still serve.
    time.sleep(0.2)
    assert any("view exploded on purpose" in w.output() for w in site.workers)
    assert requests.get(site.url("/hello/"), timeout=30).status_code == 200


def test_request_meta_as_wsgi_fills_it(site):
    response = requests.get(site.url("/meta/?x=1"), headers={"X-Custom": "yes"}, timeout=30)
    meta = response.json()
    assert meta["REQUEST_METHOD"] == "GET"
    assert meta["QUERY_STRING"] == "x=1"
    assert meta["PATH_INFO"] == "/meta/"
    assert meta["SCRIPT_NAME"] == ""
    assert meta["REMOTE_ADDR"] == "127.0.0.1"
    assert meta["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert meta["HTTP_X_CUSTOM"] == "yes"
    assert meta["path"] == "/meta/"
    assert meta["scheme"] == "http"
    assert meta["SERVER_PORT"] == str(site.port)
