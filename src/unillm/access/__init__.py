"""Tier rules, model permissions, the pure decision function and daily quotas."""
