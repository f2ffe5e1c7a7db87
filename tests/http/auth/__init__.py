"""Tests of ``referral/http/auth``."""
