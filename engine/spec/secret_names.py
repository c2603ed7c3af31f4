"""Which secret names a spec's alert channel may never name, whatever ``govops.yaml`` allows.

Spec layer: ``govops lint`` refuses such a name in a spec (:mod:`engine.spec.semantics`), and the
monitor refuses to resolve one at send time (:mod:`engine.monitoring.alerts.secrets`). Both read
this one rule, so it sits where the earliest of them may import it. It only compares names; it
never reads the environment or a secrets file.
"""

from __future__ import annotations

# never a channel secret: govops' own settings, CI runners, cloud credentials, the SMTP login and the
# secrets file's gateway keys (a spec author picks the name; the monitor's environment holds these)
RESERVED_SECRET_PREFIXES = ("GOVOPS_", "GITHUB_", "ACTIONS_", "RUNNER_", "CI_", "AWS_", "GOOGLE_", "GCP_", "GCLOUD_",
                            "AZURE_", "ARM_", "KUBE", "DOCKER_", "SMTP_", "SSH_", "GIT_", "OPA_", "PYTHON", "LD_")
RESERVED_SECRET_NAMES = frozenset({"gatewayKeys", "CI", "HOME", "PATH", "USER", "SHELL", "PWD", "HOSTNAME",
                                   "TOKEN", "GH_TOKEN", "GITHUB_TOKEN", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"})


def reserved_secret(name: str) -> bool:
    """True for names that are never a spec's channel secret, whatever govops.yaml allows."""
    upper = name.upper()
    return (name in RESERVED_SECRET_NAMES or upper in RESERVED_SECRET_NAMES
            or upper.startswith(RESERVED_SECRET_PREFIXES))
