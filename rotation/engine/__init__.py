"""The rotation engine: actions, the pure planner, observation through the ports, the executor (the
protocol's steps, docs/protocol.md), the jobs, the one-off admin operations and the simulator."""
