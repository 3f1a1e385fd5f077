"""The Google APIs the pipeline needs, enabled (and never disabled by a destroy)."""

from __future__ import annotations

from cdktn_provider_google.project_service import ProjectService
from constructs import Construct

from infra.constructs.base import pin_address

PIPELINE_APIS = (
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
)


class ProjectApis(Construct):
    def __init__(self, scope: Construct, id: str, project: str,
                 apis: tuple[str, ...] = PIPELINE_APIS) -> None:
        super().__init__(scope, id)
        self.services: list[ProjectService] = []
        for api in apis:
            svc = ProjectService(self, api, project=project, service=api,
                                 disable_on_destroy=False, disable_dependent_services=False)
            pin_address(svc, "apis", api.split(".")[0])
            self.services.append(svc)
