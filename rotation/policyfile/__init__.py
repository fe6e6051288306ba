"""Declared policies: YAML files validated by pydantic models, with errors that name file, line, field,
value and what was expected. `load_policies` reads them; `rotation.specs` turns them into AppSpecs."""

from rotation.policyfile.loader import PolicySet, load_policies
from rotation.policyfile.models import PolicyFile, schema

__all__ = ["PolicyFile", "PolicySet", "load_policies", "schema"]
