"""Fixtures for the function tests: isolated environment and per-test emulator state."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from infra.local.emulators import Emulators, reset_firestore
from tests.functions.support import CONFIG_VARS, PROJECT, AdminClients, EmulatorWorld


@pytest.fixture(autouse=True)
def isolated_environ() -> Iterator[None]:
    """Each test starts without the functions' variables and gets os.environ back after."""
    saved = os.environ.copy()
    for var in CONFIG_VARS:
        os.environ.pop(var, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def admin_clients(emulator_processes: Emulators) -> AdminClients:
    """Clients the tests use to seed and inspect the emulators (created once)."""
    saved = os.environ.copy()
    os.environ.update(emulator_processes.environ())
    try:
        from google.cloud import firestore, pubsub_v1

        clients = AdminClients(
            db=firestore.Client(project=PROJECT),
            publisher=pubsub_v1.PublisherClient(),
            subscriber=pubsub_v1.SubscriberClient(),
        )
        # The emulator's first write is slow (seconds); pay it once here.
        clients.db.collection("warmup").document("warmup").set({"ok": True})
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return clients


@pytest.fixture
def world(emulator_processes: Emulators, admin_clients: AdminClients) -> EmulatorWorld:
    """Point the clients at the emulators, wipe Firestore, and create a fresh topic."""
    os.environ.update(emulator_processes.environ())
    reset_firestore(emulator_processes.firestore.address, PROJECT)
    suffix = uuid.uuid4().hex[:10]
    world = EmulatorWorld(
        emulators=emulator_processes,
        admin=admin_clients,
        collection=f"phase3_completion_{suffix}",
        topic=f"nba-phase4-trigger-{suffix}",
        subscription=f"projects/{PROJECT}/subscriptions/phase4-pull-{suffix}",
    )
    admin_clients.publisher.create_topic(name=world.topic_path)
    admin_clients.subscriber.create_subscription(name=world.subscription, topic=world.topic_path)
    return world
