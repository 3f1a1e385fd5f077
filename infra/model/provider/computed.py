"""Attributes the provider computes: they change without anyone touching the resource.

Each is documented as an output-only ("Output only", computed) attribute in the resource docs
of hashicorp/terraform-provider-google (``website/docs/r/<type>.html.markdown``, "Attributes
Reference"): for example ``etag``, ``uid``, ``generation``, ``update_time`` and
``terminal_condition`` of ``cloud_run_v2_service``, ``creation_time``, ``last_modified_time``
and ``num_rows`` of the BigQuery dataset and table. The drift review mutes their changes; a
name with ``*`` is a pattern (``latest_*_revision``).
"""

COMPUTED_ATTRIBUTES = (
    "etag",
    "update_time",
    "create_time",
    "delete_time",
    "expire_time",
    "uid",
    "generation",
    "observed_generation",
    "reconciling",
    "state",
    "conditions",
    "terminal_condition",
    "latest_*_revision",
    "last_modified_time",
    "last_modifier",
    "traffic_statuses",
    "creation_time",
    "num_bytes",
    "num_long_term_bytes",
    "num_rows",
)
