"""MLServer as govops runs it: model-settings documents, a supervised process, a REST client.

Serving stage of the flow. Used by the local rollout target and by the validation
helper's serving-parity check. Nothing here decides *what* serves (that is the
rollout's desired state); this package only starts, talks to and stops MLServer.
``local_serving`` is the file contract between a local rollout and a local gateway (the
serving directory and the gateway's handshake file), so neither stage imports the other.
"""
