"""Deployments: parameters checked against the notebook or flow, schedules, the scheduler."""
