"""Files shipped inside the package: the default playbook (a link to playbooks/default.yml
in the source tree), used when no playbooks folder is configured or present."""
