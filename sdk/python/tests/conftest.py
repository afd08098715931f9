"""Fixtures of the Python SDK's tests. They run against a real node: tests/python_sdk_test.ts
starts one (and one with authentication) on ephemeral ports and passes their URLs in the
environment; the reconnect test starts and restarts its own node process."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import urllib.request
import uuid
from typing import Any, Awaitable, Callable

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

URL = os.environ.get("ARQON_URL", "")


def need(var: str) -> str:
    """An environment variable the Deno test sets, or a skip saying how to run the tests."""
    value = os.environ.get(var, "")
    if not value:
        pytest.skip(f"{var} is not set: run these tests through `deno task test` "
                    "(tests/python_sdk_test.ts starts the node)")
    return value


def run(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Runs an async test function in a fresh event loop (no pytest-asyncio needed), with a
    deadline so a hung test fails instead of hanging the suite."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 60))

    return wrapper


def http_of(ws_url: str) -> str:
    """The node's HTTP base URL for its WebSocket URL."""
    base = ws_url.split("/v1/ws")[0]
    return "http" + base[len("ws"):]


def put_json(url: str, body: Any, token: str = "") -> int:
    """PUTs JSON; returns the HTTP status."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as res:
        return res.status


def stored_reality(ws_url: str, name: str | None = None) -> str:
    """A fresh reality whose every topic is kept (a retention rule for `>`): history and
    replays need one."""
    reality = name or f"py-{uuid.uuid4().hex[:10]}"
    status = put_json(f"{http_of(ws_url)}/v1/realities/{reality}", {"retention": [{"pattern": ">"}]})
    assert status in (200, 201), status
    return reality


def fresh_reality() -> str:
    """A reality name no other test uses (created by the first publish, nothing stored)."""
    return f"py-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def url() -> str:
    """The WebSocket URL of the shared test node."""
    return need("ARQON_URL")


@pytest.fixture
def tcp_url() -> str:
    """The raw TCP URL (``tcp://``) of the shared test node (its ``--tcp-port``)."""
    return need("ARQON_TCP_URL")
