"""Provider facts about replacement: which attribute of a resource changes only when the
resource is replaced, with where each fact comes from.

Terraform's ``replace_triggered_by`` fires on a plan to *update or replace* a referenced
resource instance, but on a referenced *attribute* only when that attribute's value changes;
an attribute that becomes unknown because its resource is being replaced counts as a change
(https://developer.hashicorp.com/terraform/language/meta-arguments/lifecycle#replace_triggered_by).
So an IAM member that must come back with its replaced target names one of these attributes,
never the whole target: a whole-resource trigger deletes and re-creates the grant on every
in-place update of the target (a new image, a label), and IAM changes take minutes to
propagate (https://cloud.google.com/iam/docs/access-change-propagation).

Read by the constructs (``infra.synth.constructs.base.replaced_with``) and by the policy gate
(``iam.rules.lifecycle``), so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

PROVIDER_DOCS = "hashicorp/terraform-provider-google website/docs/r/"


@dataclass(frozen=True)
class ReplacementFact:
    attribute: str
    """A computed attribute that keeps its value across in-place updates and is new (unknown
    at plan time) on every create, hence on every replacement."""
    source: str
    """Where the fact comes from (a provider doc file, quoted)."""


REPLACED_ONLY: Mapping[str, ReplacementFact] = MappingProxyType({
    "google_cloud_run_v2_service": ReplacementFact(
        "uid", PROVIDER_DOCS + "cloud_run_v2_service.html.markdown: uid \"Server assigned "
        "unique identifier ... guaranteed to remain unchanged until the resource is deleted\""),
    "google_bigquery_dataset": ReplacementFact(
        "creation_time", PROVIDER_DOCS + "bigquery_dataset.html.markdown: creation_time \"The "
        "time when this dataset was created\""),
    "google_service_account": ReplacementFact(
        "unique_id", PROVIDER_DOCS + "google_service_account.html.markdown: unique_id \"The "
        "unique id of the service account\" (assigned by IAM on create)"),
    "google_storage_bucket": ReplacementFact(
        "time_created", PROVIDER_DOCS + "storage_bucket.html.markdown: time_created \"(Computed) "
        "The creation time of the bucket\""),
    # Topics and subscriptions export no creation attribute. Their ``id``
    # (``projects/{{project}}/topics/{{name}}``, resp. ``.../subscriptions/{{name}}``) is
    # computed: the SDK plans it unknown on every create (so on a replacement), and an
    # in-place update (labels, retention, push config) keeps it, since it is built from the
    # name and project only, both of which force replacement.
    "google_pubsub_topic": ReplacementFact(
        "id", PROVIDER_DOCS + "pubsub_topic.html.markdown: id \"an identifier for the resource "
        "with format projects/{{project}}/topics/{{name}}\""),
    "google_pubsub_subscription": ReplacementFact(
        "id", PROVIDER_DOCS + "pubsub_subscription.html.markdown: id \"an identifier for the "
        "resource with format projects/{{project}}/subscriptions/{{name}}\""),
})
"""Resource type → the attribute a ``replace_triggered_by`` on it must name."""


def replacement_trigger(address: str) -> str:
    """``google_cloud_run_v2_service.x`` → ``google_cloud_run_v2_service.x.uid``.

    Raises ``ValueError`` naming the address when it is not a literal ``<type>.<name>`` or no
    fact is known for its type (look the attribute up in the provider docs and add it above).
    """
    rtype, dot, name = address.partition(".")
    if "${" in address or not dot or not name or "." in name:
        raise ValueError(f"replace_triggered_by needs a literal resource address like "
                         f"'google_cloud_run_v2_service.x__service', got {address!r}")
    fact = REPLACED_ONLY.get(rtype)
    if fact is None:
        raise ValueError(f"replace_triggered_by on {address}: no attribute of {rtype} is known "
                         "to change only on replacement; add one to "
                         "infra/model/provider/lifecycle.py with its provider source")
    return f"{address}.{fact.attribute}"


DEPLOYED_FIELDS = ("template[0].containers[0].image", "client", "client_version")
"""What a Cloud Run service's own release path (``gcloud run deploy``) sets on every deploy and
an apply must not reset, as ``lifecycle.ignore_changes`` paths (list elements indexed, as the
JSON syntax parses each string as a traversal). Each is an argument of provider doc
website/docs/r/cloud_run_v2_service.html.markdown: ``template.containers.image``, ``client``,
``client_version``."""
