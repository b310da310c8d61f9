"""The incident domain: no Slack types inside."""
