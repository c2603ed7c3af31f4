"""Policy stage: the Rego library, the input contract, the backends and ``run_check``.

The policy stage judges specs; it never changes a spec, a file in the repository or
the served state. Every failure to reach a decision (compile error, builtin error,
undefined or malformed result, an unreachable OPA) is an error, never an "allow".
"""
