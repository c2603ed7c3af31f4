"""Production monitoring: reference profiles, six metric kinds, a health score, state and shutdown.

Monitoring stage (after rollout). Reads the gateway's prediction log and the reference
profiles computed at validation time; never rereads training data once a version's
profile exists, and never changes serving except through :mod:`engine.monitoring.shutdown`.
"""
