"""Reliability proofs: the fault matrix (every call of rotate and revoke with every fault, then convergence
and the invariants) and two runners on one app at once."""
