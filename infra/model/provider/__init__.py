"""What the google provider does with the attributes these stacks declare, written once,
each fact citing the provider source or doc it comes from (hashicorp/terraform-provider-google):

* ``resources``: per Terraform type, how it appears in Cloud Asset Inventory, its documented
  import id, the attributes that force replacement, and what Google manages itself (read by
  the adoption plan);
* ``lifecycle``: the attribute of each type that changes only on replacement (read by the
  constructs' ``replace_triggered_by`` and the policy gate);
* ``computed``: attributes the provider computes, which change without anyone touching the
  resource (read by the drift review).
"""
