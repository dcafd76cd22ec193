"""Tests of the IAM policy evaluator and ``ecrpy policy simulate``."""
