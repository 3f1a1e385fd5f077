"""Secrets: no secret value in the stack; tokens come from Secret Manager, keys are not minted.

The scanner walks every block of the Terraform JSON: known token formats anywhere (and in
base64 Scheduler bodies), sensitive field names, sensitive environment variables and
headers, and resources that write key material into state.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from iam.rules.engine import Context, Finding, rule
from iam.rules.helpers import blocks, decoded
from infra.stackjson.stack import REF_RE, first

SECRET_SOURCES = ("ephemeral.google_secret_manager_secret_version.",)
"""Where a secret value may come from: an ephemeral read, which never reaches state."""
SECRET_DATA_SOURCES: Mapping[str, str] = {
    "google_secret_manager_secret_version": "ephemeral.google_secret_manager_secret_version",
    "google_secret_manager_secret_version_access": "ephemeral.google_secret_manager_secret_version",
    "google_secret_manager_regional_secret_version":
        "ephemeral.google_secret_manager_regional_secret_version",
    "google_secret_manager_regional_secret_version_access":
        "ephemeral.google_secret_manager_regional_secret_version",
    "google_kms_secret": "ephemeral.google_kms_secret (or a Secret Manager ephemeral read)",
    "google_service_account_access_token": "ephemeral.google_service_account_access_token",
    "google_service_account_id_token": "ephemeral.google_service_account_id_token",
}
"""Data sources whose result is a secret value, and the ephemeral resource to read it with
instead (a data source's result is written to state in plain text)."""
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Slack webhook URL", re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/")),
    ("a chat webhook URL", re.compile(r"discord(?:app)?\.com/api/webhooks/|"
                                      r"webhook\.office\.com/|outlook\.office\.com/webhook")),
    ("a Slack token", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{8,}|\bxapp-\d-[A-Za-z0-9-]{8,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\"private_key\"\s*:")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a Google OAuth client secret", re.compile(r"\bGOCSPX-[A-Za-z0-9_-]{20,}")),
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{22,}")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("a Stripe key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.")),
    ("a bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{20,}")),
    ("credentials in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@${}]+:[^/\s@${}]+@")),
)
SENSITIVE_KEYS = frozenset({"auth_token", "secret_data", "password", "api_key", "private_key",
                            "client_secret", "access_token", "secret_key", "token", "service_key",
                            "credentials", "webhook_url", "bot_token", "signing_secret",
                            "secret_string", "private_key_pem", "refresh_token"})
SENSITIVE_SUFFIXES = ("_token", "_secret", "_password", "_api_key", "_private_key")
SENSITIVE_NAME_PARTS = frozenset({"TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "APIKEY",
                                  "CREDENTIALS", "CREDENTIAL", "WEBHOOK", "AUTHORIZATION",
                                  "PRIVATE"})
KEY_MINTING_TYPES: Mapping[str, str] = {
    "google_service_account_key": "a service-account private key",
    "google_storage_hmac_key": "an HMAC secret",
    "google_apikeys_key": "an API key string",
}


def _sensitive_name(name: str) -> bool:
    parts = set(re.split(r"[^A-Z0-9]+", name.upper()))
    return bool(parts & SENSITIVE_NAME_PARTS)


def _secret_source(value: str) -> str | None:
    """``None`` when ``value`` is a Secret Manager reference; else why it is not acceptable."""
    ref = REF_RE.fullmatch(value.strip())
    if ref and ref.group(1).startswith(SECRET_SOURCES):
        return None
    if ref:
        return f"comes from {ref.group(1)}, not Secret Manager"
    return "is a literal value"


def _walk(value: object, path: str) -> Iterator[tuple[str, str, object]]:
    """``(path, key, value)`` of every scalar under ``value``."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k == "//":
                continue
            sub = f"{path}.{k}" if path else str(k)
            if isinstance(v, Mapping | list):
                yield from _walk(v, sub)
            else:
                yield sub, str(k), v
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


@rule("SECRET-001", "No secret values in the stack",
      see="https://developer.hashicorp.com/terraform/language/state/sensitive-data",
      fix="reference the secret version; rotate any leaked value")
def secrets(ctx: Context) -> Iterator[Finding]:
    """Everything in the configuration lands in plan files, CI artifacts and Terraform state,
    where it is readable in plain text; tokens, keys, webhook URLs and sensitive fields are read
    from Secret Manager by an ephemeral resource into a write-only argument, and no key is
    minted into state."""
    yield from _minted_keys(ctx)
    data = ctx.graph.stack.data
    found: list[tuple[str, object]] = []
    for kind in ("resource", "data", "ephemeral"):
        for rtype, by_name in (data.get(kind) or {}).items():
            for name, body in (by_name or {}).items():
                prefix = "" if kind == "resource" else f"{kind}."
                found.append((f"{prefix}{rtype}.{name}", body))
    for kind in ("provider", "output", "variable", "locals", "terraform"):
        for name, body in (data.get(kind) or {}).items():
            if isinstance(body, Mapping | list):
                found.append((f"{kind}.{name}", body))
            else:
                found.append((f"{kind}.{name}", {name: body}))
            value: object = None
            if kind == "variable" and isinstance(body, Mapping):
                value = body.get("default")
            elif kind == "locals":
                value = body
            if (isinstance(value, str) and value and _sensitive_name(name)
                    and _secret_source(value)):
                yield Finding(f"{kind}.{name}", f"{kind} {name} holds a literal value; secrets "
                              "are read from Secret Manager, never written in the stack")
    for address, body in found:
        reported: set[str] = set()
        yield from _secret_fields(address, body, reported)
        yield from _secret_env(address, body, reported)


def _secret_fields(address: str, body: object, reported: set[str]) -> Iterator[Finding]:
    """Token formats in any value, and sensitive fields not read from Secret Manager."""
    for path, key, value in _walk(body, ""):
        if not isinstance(value, str) or not value:
            continue
        where = path
        texts = [value]
        if path.replace("[0]", "") in ("http_target.body", "pubsub_target.data"):
            texts.append(decoded(value))
        for label, pattern in SECRET_PATTERNS:
            if any(pattern.search(t) for t in texts) and where not in reported:
                reported.add(where)
                yield Finding(address, f"{where} holds {label}; secrets live in Secret Manager "
                              "and reach the stack only as "
                              "ephemeral.google_secret_manager_secret_version references (rotate "
                              "it: it is in the code that wrote this stack and in Terraform "
                              "state)")
        if where in reported:
            continue
        sensitive = (key in SENSITIVE_KEYS or key.endswith(SENSITIVE_SUFFIXES)
                     or ".sensitive_labels." in f".{path}")
        if address.startswith(SECRET_SOURCES) or key.endswith(WRITE_ONLY_VERSION):
            # The secret read itself, and the counter that makes Terraform resend a
            # write-only value: neither holds a secret.
            sensitive = False
        if sensitive:
            why = _secret_source(value)
            if why:
                reported.add(where)
                yield Finding(address, f"sensitive field {where} {why}; read it from "
                              "ephemeral.google_secret_manager_secret_version.<x>.secret_data "
                              "into a write-only (*_wo) argument")


WRITE_ONLY_VERSION = "_wo_version"


@rule("SECRET-002", "No secret read through a data source",
      see="https://developer.hashicorp.com/terraform/language/resources/ephemeral",
      fix="read it with the ephemeral resource into a write-only argument")
def secret_data_sources(ctx: Context) -> Iterator[Finding]:
    """A data source's result is stored in Terraform state, in plain text, for anyone who can
    read the state bucket; an ephemeral resource is read during plan and apply only and never
    stored, and a write-only argument sends the value without keeping it."""
    for rtype, instead in SECRET_DATA_SOURCES.items():
        for res in ctx.graph.resources(f"data.{rtype}"):
            yield Finding(res.address, f"data.{rtype} writes the secret into Terraform state in "
                          f"plain text; read it with {instead} and pass it to a write-only "
                          "(*_wo) argument")


def _secret_env(address: str, body: object, reported: set[str]) -> Iterator[Finding]:
    if not isinstance(body, Mapping):
        return
    pairs: list[tuple[str, str, object]] = []
    for block in ("service_config", "build_config"):
        env = first(body.get(block)).get("environment_variables")
        if isinstance(env, Mapping):
            pairs += [(f"{block}.environment_variables.{k}", k, v) for k, v in env.items()]
    for key in ("environment_variables", "build_environment_variables"):
        env = body.get(key)
        if isinstance(env, Mapping):
            pairs += [(f"{key}.{k}", k, v) for k, v in env.items()]
    headers = first(body.get("http_target")).get("headers")
    if isinstance(headers, Mapping):
        pairs += [(f"http_target.headers.{k}", k, v) for k, v in headers.items()]
    template = first(body.get("template"))
    containers = blocks(template.get("containers")) + blocks(
        first(template.get("spec")).get("containers"))
    for i, c in enumerate(containers):
        for j, item in enumerate(blocks(c.get("env"))):
            if "value" in item:
                pairs.append((f"template.containers[{i}].env[{j}]", str(item.get("name")),
                              item.get("value")))
    for path, name, value in pairs:
        if path in reported or not isinstance(value, str) or not value:
            continue
        if not _sensitive_name(name):
            continue
        why = _secret_source(value)
        if why:
            yield Finding(address, f"{path} ({name}) {why}; environment variables are readable "
                          "by every viewer of the service: use a Secret Manager secret "
                          "reference (value_source.secret_key_ref / secret_environment_variables)")


def _minted_keys(ctx: Context) -> Iterator[Finding]:
    for rtype, what in KEY_MINTING_TYPES.items():
        for res in ctx.graph.resources(rtype):
            yield Finding(res.address, f"{rtype} writes {what} into Terraform state (and "
                          "outputs); pipeline identities never need exported keys: Cloud Run, "
                          "functions and Scheduler act as their service account directly")
