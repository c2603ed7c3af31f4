"""Tests of the policy stage."""
