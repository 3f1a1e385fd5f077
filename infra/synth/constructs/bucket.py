"""A Cloud Storage bucket: private, uniform access, grants only through methods.

``protected`` buckets hold pipeline data (the scrapers' raw files): an apply never destroys
them, like the datasets and the Firestore database. The function-source bucket is not:
its objects are rebuilt from the repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cdktn import TerraformResourceLifecycle
from cdktn_provider_google.storage_bucket import StorageBucket
from cdktn_provider_google.storage_bucket_iam_member import StorageBucketIamMember
from constructs import Construct

from infra.model.permissions import OBJECT_USER, OBJECT_VIEWER, Grant, Target
from infra.synth.constructs.base import Granter, Principal, StackConstruct, ref, replaced_with


@dataclass(frozen=True)
class BucketProps:
    """``component``: address prefix. Public access is always prevented.

    ``protected``: ``prevent_destroy`` for a bucket of data; default False.
    """

    name: str
    """The globally unique bucket name."""
    component: str
    project: str
    """The GCP project id the resources are created in."""
    location: str
    """Bucket location (a region such as ``us-central1``, or ``US``)."""
    protected: bool = False


class Bucket(StackConstruct):
    def __init__(self, scope: Construct, id: str, props: BucketProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.target = Target("storage.bucket", props.name)
        self.bucket = StorageBucket(
            self, "bucket", name=props.name, project=props.project, location=props.location,
            uniform_bucket_level_access=True, public_access_prevention="enforced",
            force_destroy=False,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True) if props.protected
            else None,
        )
        self.address = self.pin(self.bucket, props.component, "bucket")

    @property
    def name(self) -> str:
        """The bucket's ``name`` as a reference (what uses it follows the bucket)."""
        return ref(self.address, "name")

    def granters(self) -> Mapping[tuple[Target, str], Granter]:
        return {(self.target, OBJECT_VIEWER): self.grant_read,
                (self.target, OBJECT_USER): self.grant_write}

    def _grant(self, role: str, principal: Principal, part: str) -> Grant:
        return self.grant_member(
            StorageBucketIamMember, principal, role, self.target,
            f"{part}-{principal.component}", (self.props.component, f"{part}_{principal.component}"),
            bucket=self.name, lifecycle=replaced_with(self.address))

    def grant_read(self, principal: Principal) -> Grant:
        """``roles/storage.objectViewer`` on this bucket only."""
        return self._grant(OBJECT_VIEWER, principal, "reader")

    def grant_write(self, principal: Principal) -> Grant:
        """``roles/storage.objectUser`` on this bucket only: create and overwrite objects."""
        return self._grant(OBJECT_USER, principal, "writer")
