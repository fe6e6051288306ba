"""The audit's outputs for the security team: OCSF, SARIF, HTML, CSV, Markdown, and the run-to-run diff."""
