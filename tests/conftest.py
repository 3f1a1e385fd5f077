"""Shared fixtures. ``emulators`` starts the official Pub/Sub and Firestore emulators once
per test session, only when a test asks for it (tests using it are marked ``emulator``)."""

from collections.abc import Iterator

import pytest

from infra.emulators import Emulators, emulators


@pytest.fixture(scope="session")
def emulator_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    with emulators(tmp_path_factory.mktemp("emulator-logs")) as running:
        yield running
