"""Declared policies: YAML files validated by pydantic models, with errors that name file, line, field,
value and what was expected. `load_policies` reads them; `rotation.policy.specs` turns them into AppSpecs."""

from rotation.policy.loader import PolicySet, load_policies
from rotation.policy.models import PolicyFile, schema

__all__ = ["PolicyFile", "PolicySet", "load_policies", "schema"]
