"""Pages out: PagerDuty (Events API v2) and Opsgenie (Alert API), for `pagerduty:<service>` and
`opsgenie:<team>` targets in the playbook and `/incident page`."""
