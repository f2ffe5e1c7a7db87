"""Tests of ``referral/http/profile``."""
