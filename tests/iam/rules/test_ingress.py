"""``iam.rules.ingress``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    SVC3,
    SVC3_ADDR,
    Case,
    Stack,
    mutation_tests,
    res,
)


def public_ingress(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service", SVC3)["ingress"] = "INGRESS_TRAFFIC_ALL"


CASES: list[Case] = [
    ("INGRESS-001", SVC3_ADDR, public_ingress),
]


test_mutation_is_caught = mutation_tests(CASES)
