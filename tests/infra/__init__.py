"""Tests of ``referral/infra``."""
