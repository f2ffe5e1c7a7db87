"""Tests of ``referral/domain``."""
