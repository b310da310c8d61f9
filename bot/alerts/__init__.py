"""Alerts in: monitoring tools' webhooks (Prometheus Alertmanager) become incidents, routed by
the playbook's `alert_routes`, one incident per alert group."""
