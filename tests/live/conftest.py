"""The healthy live project verify reads, generated from the session's synthesized prod stack."""

from __future__ import annotations

import pytest

from infra.model.envs import get_env
from infra.stackjson.stack import StackJson
from tests.live.fake_project import FakeProject


@pytest.fixture(scope="session")
def healthy_prod(prod: StackJson) -> FakeProject:
    """Built once; never changed (tests take ``project``, a copy)."""
    return FakeProject.from_stack(prod, get_env("prod"))


@pytest.fixture
def project(healthy_prod: FakeProject) -> FakeProject:
    """A fresh copy of the healthy prod project, for one test to read or break."""
    return healthy_prod.copy()
