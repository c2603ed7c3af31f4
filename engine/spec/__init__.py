"""Spec stage: a model spec and govops.yaml read from YAML, typed, checked and located at ``file:line:col``.

The first stage of the flow and the foundation every later stage imports: loading, the schema,
cross-field semantics, the workspace, repository config, URIs, diagnostics, errors, limits and settings.
"""
