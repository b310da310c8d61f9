"""The HTTP face: Slack's requests and OAuth (slack), health and metrics (health), the alert
sources' webhooks (alerts), assembled by `server`. Each route module is given only the few
things it uses; none reaches into the running bot."""
