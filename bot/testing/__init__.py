"""Test and demo support: a fake Slack Web API and a sender of signed Slack requests."""
