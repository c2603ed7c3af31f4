"""The champion/challenger gateway: Open Inference Protocol V2 in front of MLServer.

Serving stage, local target. Routes each request to the champion, a canary or A/B
challenger (sticky by ``X-Govops-Key``), mirrors it to shadows after answering, fails
over when the routed version fails, checks per-tenant API keys, logs every exchange to
the prediction log and exposes Prometheus metrics. It never changes what MLServer
serves: the rollout does that, and the gateway reloads the routing table it wrote.
"""
