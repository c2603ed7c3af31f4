"""Tests of the rollout stage."""
