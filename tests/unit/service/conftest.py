"""An in-process app (ASGI, no server) on a fresh workspace."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from workbench.service import ServiceConfig, create_app

TOKEN = "t0ken-" + "a" * 40  # test_app.py sends it


@pytest.fixture
def make_client(home) -> Callable[..., TestClient]:
    clients: list[TestClient] = []

    def make(**overrides) -> TestClient:
        config = ServiceConfig(home=home, token=TOKEN, **overrides)
        client = TestClient(create_app(config), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client(rate=0)
