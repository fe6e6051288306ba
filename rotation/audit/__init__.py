"""The audit: controls, the pure evaluation, the run (gather, judge, write, publish) and the reports."""
