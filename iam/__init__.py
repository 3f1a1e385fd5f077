"""Identities and grants as data (``iam.grants``) and the policy gate over synthesized stacks.

``python -m iam.policy`` runs the rule engine; ``python -m iam.report`` adds checkov.
"""
