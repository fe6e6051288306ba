"""The pure domain: validated values, ids, roles, the declared and observed model, the protocol's tags and
lifecycle rules. No I/O, no adapters, no hosting."""
