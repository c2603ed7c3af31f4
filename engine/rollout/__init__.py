"""Rollout: the desired state from main, its diff with what serves, and the targets that apply it.

Merge stage of the flow. A rollout never moves traffic to a version before that version
is ready and has answered a smoke inference, and never removes a serving version
before the versions replacing it are healthy.
"""
