"""Tests of the audit stage."""
