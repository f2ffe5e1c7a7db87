"""Tests of ``referral/http``."""
