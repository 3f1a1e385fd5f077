"""The stack belongs to the environment it is checked as."""

from __future__ import annotations

from collections.abc import Iterator

from iam.rules.engine import PROVIDER_DOCS, Context, Finding, rule, wrong_environment


@rule("ENV-001", "The stack and its resources are in the environment's project",
      see=PROVIDER_DOCS + "guides/provider_reference",
      fix="synthesize the stack for the environment; never hard-code a project")
def project_consistency(ctx: Context) -> Iterator[Finding]:
    """A resource's own project overrides the provider's, so one literal project (or a stack
    checked as the wrong environment) moves it out of reach of the grants and checks written for
    this project."""
    g = ctx.graph
    wrong = wrong_environment(ctx)
    if wrong:
        yield Finding("provider.google", f"{wrong}; check the stack of the environment you "
                      "deploy (the grant rules were skipped: nothing would match)")
        return
    project = ctx.data.env.project_id if ctx.data is not None else g.project
    if project is None:
        return
    for res in sorted(g.stack.resources.values(), key=lambda r: r.address):
        for fld in ("project", "project_id"):
            value = res.body.get(fld)
            if isinstance(value, str) and "${" not in value and value != project:
                yield Finding(res.address, f"{fld} is {value!r} but every resource of this "
                              f"stack lives in {project!r}; a resource in another project "
                              "escapes this stack's grants and checks")
