"""Validation stage: the DAG of (model, check) tasks and the executors that run it, locally or on Argo.

Fourth stage of the flow, after policy: the DAG, Argo workflows and manifests, Kubernetes names and the executors.
"""
