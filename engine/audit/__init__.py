"""Audit stage: the trail in Git (ledger notes, chain, evidence), its verification and what is read from it.

Last stage of the flow: the ledger, PR evidence, ``verify``, ``explain``, the timeline, the catalog and compliance.
"""
