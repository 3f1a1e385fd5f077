"""The Firestore database that holds completion tracking, with TTL on completion documents."""

from __future__ import annotations

from dataclasses import dataclass

from cdktn import TerraformResourceLifecycle
from cdktn_provider_google.firestore_database import FirestoreDatabase
from cdktn_provider_google.firestore_field import FirestoreField, FirestoreFieldTtlConfig
from constructs import Construct

from infra.model.permissions import DATASTORE_USER, DATASTORE_VIEWER, Grant
from infra.synth.constructs.base import StackConstruct, ref
from infra.synth.constructs.identity import Identity


@dataclass(frozen=True)
class FirestoreProps:
    """``ttl_collections``: collection groups whose ``ttl_field`` expires documents."""

    project: str
    """The GCP project id the resources are created in."""
    location: str
    """The database's ``location_id`` (the env's ``database_location``, ``nam5`` or a
    region); a change replaces the database."""
    ttl_collections: tuple[str, ...]
    ttl_field: str = "_expires_at"
    """The timestamp field after which Firestore deletes a document."""
    component: str = "firestore"
    """Address prefix: resources are ``<type>.<component>__<part>`` (``-`` becomes ``_``)."""


class Firestore(StackConstruct):
    def __init__(self, scope: Construct, id: str, props: FirestoreProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.database = FirestoreDatabase(
            self, "database", name="(default)", project=props.project,
            location_id=props.location, type="FIRESTORE_NATIVE",
            delete_protection_state="DELETE_PROTECTION_ENABLED", deletion_policy="ABANDON",
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
        )
        self.address = self.pin(self.database, props.component, "database")
        database = ref(self.address, "name")
        for collection in props.ttl_collections:
            field = FirestoreField(
                self, f"ttl-{collection}", project=props.project,
                database=database, collection=collection, field=props.ttl_field,
                ttl_config=FirestoreFieldTtlConfig(),
                # TTL fields need no single-field index; an empty config disables them.
                index_config={},
            )
            self.pin(field, props.component, f"ttl_{collection}")

    def grant_read_write(self, identity: Identity) -> Grant:
        """Firestore IAM is project-level only: ``roles/datastore.user``."""
        return identity.grant_project_role(DATASTORE_USER)

    def grant_read(self, identity: Identity) -> Grant:
        """``roles/datastore.viewer`` on the project (Firestore has no finer IAM)."""
        return identity.grant_project_role(DATASTORE_VIEWER)
