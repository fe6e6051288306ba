"""The sandbox: every emulator started together on one clock, seeded with a sample world."""

from emulators.sandbox.world import RunningWorld, SandboxWorld, running_world

__all__ = ["RunningWorld", "SandboxWorld", "running_world"]
