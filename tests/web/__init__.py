"""Tests of ``referral/web``."""
