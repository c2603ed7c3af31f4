"""Kubernetes and Argo names for govops values: mapped to valid names, or refused.

Part of the *validate* stage (workflow building): model ids, check names, versions and
repository names become DAG task names, label values and ``generateName`` prefixes.
Every mapping is deterministic (lowercase, invalid characters become ``-``, too long
values are truncated and get a short hash suffix so two values never collide silently).
This module must never return an invalid name: a value that cannot be mapped raises
``InputError`` with a message naming the value.
"""

from __future__ import annotations

import hashlib
import re

from engine.spec.errors import InputError

# Argo: template, task and step names (``validateWorkflowFieldNames``): alphanumerics and '-', at most 128.
ARGO_FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
ARGO_FIELD_MAX = 128
# Kubernetes: RFC 1123 label (DNS label), at most 63; RFC 1123 subdomain, at most 253.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Kubernetes: label values: empty, or alphanumerics with '-', '_', '.' inside, at most 63.
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_VALUE_MAX = 63
HASH_LEN = 8


def short_hash(value: str) -> str:
    """Eight hex digits of sha256: the suffix that keeps truncated names apart."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:HASH_LEN]


def _fit(base: str, original: str, max_len: int) -> str:
    """``base`` cut to fit ``max_len`` together with a '-' and a hash of ``original``."""
    keep = max_len - HASH_LEN - 1
    head = base[:keep].rstrip("-._")
    return f"{head}-{short_hash(original)}" if head else short_hash(original)


def dns_label(value: str, *, max_len: int = 63, what: str = "name") -> str:
    """``value`` as an RFC 1123 label: lowercase alphanumerics and '-', at most ``max_len``.

    A value that already is a valid label is returned unchanged; any other value is
    lowercased, every invalid character becomes '-', and a hash of the original is
    appended so two different values never map to the same name.
    """
    if DNS_LABEL.match(value) and len(value) <= max_len:
        return value
    base = re.sub(r"[^a-z0-9-]+", "-", value.lower())
    base = re.sub(r"-{2,}", "-", base).strip("-")
    if not base:
        raise InputError(f"cannot make a Kubernetes name from {what} {value!r}: it has no letters or digits")
    return _fit(base, value, max_len)


def argo_field_name(value: str, *, what: str = "task name") -> str:
    """``value`` as an Argo task/template name (alphanumerics and '-', at most 128)."""
    if ARGO_FIELD_NAME.match(value) and len(value) <= ARGO_FIELD_MAX:
        return value
    return dns_label(value, max_len=ARGO_FIELD_MAX, what=what)


def label_value(value: str) -> str:
    """``value`` as a Kubernetes label value; the full value belongs in an annotation.

    '/' (as in ``tenant/name`` or ``owner/repo``) becomes '.'; if anything else had to
    change (invalid characters become '-') or the value is longer than 63 characters, it
    is truncated and a hash of the original is appended.
    """
    if LABEL_VALUE.match(value) and len(value) <= LABEL_VALUE_MAX:
        return value
    dotted = value.replace("/", ".")
    if LABEL_VALUE.match(dotted) and len(dotted) <= LABEL_VALUE_MAX:
        return dotted
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", dotted)
    base = base.strip("-_.")
    if not base:
        return short_hash(value)
    mapped = _fit(base, value, LABEL_VALUE_MAX)
    return mapped.strip("-_.") or short_hash(value)


def is_label_value(value: str) -> bool:
    """True if ``value`` is a valid Kubernetes label value."""
    return bool(LABEL_VALUE.match(value)) and len(value) <= LABEL_VALUE_MAX


def is_dns_label(value: str, max_len: int = 63) -> bool:
    """True if ``value`` is a valid RFC 1123 label of at most ``max_len`` characters."""
    return bool(DNS_LABEL.match(value)) and len(value) <= max_len


def unique_names(keys: list[str], make: dict[str, str]) -> dict[str, str]:
    """Resolve collisions: keys whose mapped names clash all get a hash of the key appended.

    ``make`` maps each key to its candidate name; the result maps each key to a name
    no other key shares (checked again after disambiguation, refusing if still clashing).
    """
    by_name: dict[str, list[str]] = {}
    for key in keys:
        by_name.setdefault(make[key], []).append(key)
    out: dict[str, str] = {}
    for name, owners in by_name.items():
        if len(owners) == 1:
            out[owners[0]] = name
            continue
        for key in owners:
            keep = ARGO_FIELD_MAX - HASH_LEN - 1
            out[key] = f"{name[:keep].rstrip('-')}-{short_hash(key)}"
    if len(set(out.values())) != len(out):
        clash = sorted(k for k in out if list(out.values()).count(out[k]) > 1)
        raise InputError(f"these ids map to the same Kubernetes name even after hashing: {', '.join(clash)}")
    return out
