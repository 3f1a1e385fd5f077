"""The environment the stack generates from the manifest is what the functions accept.

``infra.function_config.function_env`` is the one place the stack, the local pipeline and
the policy rules take each function's variables from; this test feeds it, for every
environment, to the functions' own configuration loaders.
"""

from __future__ import annotations

import json

import pytest

from functions.phase3_to_phase4.config import Config
from functions.pipeline_canary.config import CanaryConfig
from infra.model.envs import get_env
from infra.model.function_config import function_env
from infra.model.pipeline import load
from infra.model.wiring import derive


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_generated_environment_is_accepted_by_each_function(env_name):
    manifest = load()
    env = get_env(env_name)
    roles = {fn.role: fn for fn in manifest.functions}

    orchestrator_env = function_env(manifest, env, roles["orchestrator"])
    config = Config.from_env(orchestrator_env)
    assert config.expected_processors == tuple(
        sorted(json.loads(orchestrator_env["EXPECTED_PROCESSORS"]))
    )
    assert config.trigger_topic_path.startswith(f"projects/{env.project_id}/topics/")
    assert config.bq_table_id.startswith(f"{env.project_id}.")

    canary_config = CanaryConfig.from_env(function_env(manifest, env, roles["canary"]))
    (transition,) = [t for t in canary_config.transitions if t.name == config.transition]
    assert transition.collection == config.collection
    assert transition.expected == config.expected_processors
    assert transition.source_phase == config.source_phase
    assert transition.name == config.transition

    # The canary reads its own subscription of the orchestrator's trigger topic, the one the
    # wiring declares (and grants it), with the same TTL as the completion documents.
    wiring = derive(manifest, env)
    (feed,) = [a for a in wiring.announcements if a.key == config.transition]
    assert transition.announcements == feed.subscription
    assert feed.topic_key == roles["orchestrator"].trigger_topic
    assert 1 <= transition.silent_minutes < transition.stall_minutes
    assert canary_config.ttl_days == config.ttl_days
