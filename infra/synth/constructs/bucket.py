"""The function-source bucket: private, uniform access, read grants only through a method."""

from __future__ import annotations

from dataclasses import dataclass

from cdktn_provider_google.storage_bucket import StorageBucket
from cdktn_provider_google.storage_bucket_iam_member import StorageBucketIamMember
from constructs import Construct

from infra.model.wiring import OBJECT_VIEWER, Grant, Target
from infra.synth.constructs.base import Principal, pin_address, replaced_with


@dataclass(frozen=True)
class BucketProps:
    """``component``: address prefix. Public access is always prevented."""

    name: str
    component: str
    project: str
    location: str


class SourceBucket(Construct):
    def __init__(self, scope: Construct, id: str, props: BucketProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.bucket = StorageBucket(
            self, "bucket", name=props.name, project=props.project, location=props.location,
            uniform_bucket_level_access=True, public_access_prevention="enforced",
            force_destroy=False,
        )
        self.address = pin_address(self.bucket, props.component, "bucket")

    @property
    def name(self) -> str:
        return self.bucket.name

    def grant_read(self, principal: Principal) -> Grant:
        """``roles/storage.objectViewer`` on this bucket only."""
        m = StorageBucketIamMember(
            self, f"reader-{principal.component}", bucket=self.bucket.name,
            role=OBJECT_VIEWER, member=principal.member,
            lifecycle=replaced_with(self.address),
        )
        pin_address(m, self.props.component, f"reader_{principal.component}")
        return Grant(principal.literal_member, OBJECT_VIEWER,
                     Target("storage.bucket", self.props.name))
