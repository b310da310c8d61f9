"""The Slack edge: listeners, Block Kit builders and the one gateway to the Web API."""
