"""Tests of ``referral/cli``."""
