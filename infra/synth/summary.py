"""The short summary ``make synth`` ends with: stacks, resource counts, what the adoption
record added (imports and kept live values), edges and identities."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from infra.model.adoption import ADOPTION_DIR, record_path
from infra.model.envs import get_env
from infra.paths import REPO_ROOT, stack_name
from infra.stackjson.stack import StackJson, first
from infra.synth.app import adoption_record


def _short(value: object) -> str:
    text = str(value)
    return text.replace("serviceAccount:", "")


def edges(stack: StackJson) -> list[tuple[str, str, str, str]]:
    """``(kind, source, target, identity)`` for push subscriptions, pull subscriptions (other
    than dead-letter ones: their readers), triggers and jobs."""
    rows: list[tuple[str, str, str, str]] = []
    for sub in stack.of_type("google_pubsub_subscription"):
        push = first(sub.body.get("push_config"))
        if not push:
            continue
        oidc = first(push.get("oidc_token"))
        topic = stack.ref_address(sub.body.get("topic")) or sub.body.get("topic")
        topic_res = stack.resources.get(str(topic))
        source = topic_res.body.get("name") if topic_res else topic
        target = stack.refs(push.get("push_endpoint"))
        target_name = _target_name(stack, target[0]) if target else push.get("push_endpoint")
        path = str(push.get("push_endpoint", "")).rsplit("}", 1)[-1]
        rows.append(("push", f"{source} ({sub.body.get('name')})", f"{target_name}{path}",
                     _short(stack.resolve_attr(oidc.get("service_account_email")))))
    for sub in stack.of_type("google_pubsub_subscription"):
        if first(sub.body.get("push_config")) or _is_dead_letter_subscription(stack, sub.address):
            continue
        topic_res = stack.resources.get(stack.ref_address(sub.body.get("topic")) or "")
        source = topic_res.body.get("name") if topic_res else sub.body.get("topic")
        readers = sorted(_short(stack.interpolate(m.body.get("member")))
                         for m in stack.of_type("google_pubsub_subscription_iam_member")
                         if stack.ref_address(m.body.get("subscription")) == sub.address)
        rows.append(("pull", f"{source} ({sub.body.get('name')})", "(pulled)",
                     ", ".join(readers) or "nobody"))
    for fn in stack.of_type("google_cloudfunctions2_function"):
        trig = first(fn.body.get("event_trigger"))
        if trig:
            topic = stack.resources.get(stack.ref_address(trig.get("pubsub_topic")) or "")
            rows.append(("event", str(topic.body.get("name") if topic else trig.get("pubsub_topic")),
                         str(fn.body.get("name")),
                         _short(stack.resolve_attr(trig.get("service_account_email")))))
    for job in stack.of_type("google_cloud_scheduler_job"):
        http = first(job.body.get("http_target"))
        oidc = first(http.get("oidc_token"))
        target = stack.refs(http.get("uri"))
        target_name = _target_name(stack, target[0]) if target else http.get("uri")
        path = str(http.get("uri", "")).rsplit("}", 1)[-1]
        rows.append(("schedule", f"{job.body.get('name')} [{job.body.get('schedule')}]",
                     f"{target_name}{path}",
                     _short(stack.resolve_attr(oidc.get("service_account_email")))))
    return rows


def _is_dead_letter_subscription(stack: StackJson, address: str) -> bool:
    """Whether the subscription at ``address`` reads a topic some subscription dead-letters to."""
    topic = stack.ref_address(stack.resources[address].body.get("topic"))
    return any(stack.ref_address(first(s.body.get("dead_letter_policy")).get("dead_letter_topic"))
               == topic for s in stack.of_type("google_pubsub_subscription") if topic)


def _target_name(stack: StackJson, address: str) -> str:
    res = stack.resources.get(address)
    return str(res.body.get("name")) if res else address


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def adoption_line(env: str, adoption_dir: Path | None = ADOPTION_DIR) -> str | None:
    """``N imports (infra/adoption/<env>.json), K kept live values`` when the env has an
    adoption record (the synth read it: each import is an ``import`` block, each kept value
    is declared); None when it has none."""
    if adoption_dir is None:
        return None
    path = record_path(env, adoption_dir)
    if not path.is_file():
        return None
    record = adoption_record(env, get_env(env).project_id, adoption_dir)
    resolved = path.resolve()
    shown = resolved.relative_to(REPO_ROOT) if resolved.is_relative_to(REPO_ROOT) else path
    kept = sum(len(values) for values in record.kept.values())
    return (f"{_plural(len(record.imports), 'import')} ({shown}), "
            f"{_plural(kept, 'kept live value')}")


def summarize(stacks: Mapping[str, Path], seconds: float,
              adoption_dir: Path | None = ADOPTION_DIR) -> str:
    """``adoption_dir``: where the synth read the adoption records (``None``: it read none)."""
    lines = [f"synthesized {len(stacks)} stack(s) in {seconds:.1f}s"]
    for name, path in stacks.items():
        stack = StackJson.load(path)
        counts = Counter(r.type for r in stack.resources.values()
                         if not r.type.startswith(("data.", "ephemeral.")))
        lines.append(f"\n{name}: {sum(counts.values())} resources -> {path.parent}")
        adopted = adoption_line(name.removeprefix(stack_name("")), adoption_dir)
        if adopted:
            lines.append(f"  adoption: {adopted}")
        for rtype, n in sorted(counts.items()):
            lines.append(f"  {n:3d}  {rtype}")
        lines.append("  edges:")
        for kind, source, target, identity in edges(stack):
            lines.append(f"    {kind:8s} {source} -> {target}  as {identity}")
    return "\n".join(lines)
