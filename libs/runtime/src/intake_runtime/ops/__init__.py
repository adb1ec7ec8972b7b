"""Operator commands (`intake-ops`): consumer groups and their lag, dead letters, and the
one-off set-up a deployment runs before its rollout."""
