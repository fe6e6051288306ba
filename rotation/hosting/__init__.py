"""Where the service runs: settings, the one composition root (`runtime`), schedules, telemetry, the
Function app's triggers, the queue fan-out and `rotation serve`."""
