"""Playbook schema, the default playbook built from the seeds, and precise errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.__main__ import main
from bot.playbooks import PlaybookError, load_playbooks, parse_playbook

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = (ROOT / "playbooks" / "default.yml").read_text()


def test_default_playbook_follows_the_seeds() -> None:
    pb = load_playbooks(ROOT / "playbooks")
    cadence = {s.id: s.update_every for s in pb.severities}
    assert cadence == {"SEV1": timedelta(minutes=30), "SEV2": timedelta(hours=1),
                       "SEV3": timedelta(hours=4), "SEV4": None}
    assert {s.id: s.response_time for s in pb.severities}["SEV1"] == timedelta(minutes=15)
    assert [r.id for r in pb.roles] == ["ic", "tl", "comms", "scribe"]
    assert [r.name for r in pb.roles] == ["Incident Commander", "Tech Lead", "Comms Lead",
                                          "Scribe"]
    assert "Maintain incident timeline" in pb.role("scribe").responsibilities
    assert [s.id for s in pb.statuses] == ["investigating", "identified", "monitoring",
                                           "resolved"]
    assert pb.default_severity.id == "SEV3"
    assert [s.id for s in pb.severities if s.postmortem_required] == ["SEV1", "SEV2"]


def _broken(mutate) -> str:
    data = yaml.safe_load(DEFAULT)
    mutate(data)
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["severities"][2].update(update_every="5x"),
     "pb.yml: severities[2].update_every: '5x' is not a duration"),
    (lambda d: d["severities"][0].update(update_evry="1h"),
     "pb.yml: severities[0].update_evry: unknown key"),
    (lambda d: d["severities"][1].pop("response_time"),
     "pb.yml: severities[1].response_time: is required"),
    (lambda d: d["severities"][0].update(default=True),
     "exactly one severity must have `default: true` (found 2: SEV1, SEV3)"),
    (lambda d: d["roles"][1].update(id="ic"), "roles: the id ic is used twice"),
    (lambda d: d["severities"][1].update(aliases=["P0"]), "SEV2 and SEV1 both answer to 'p0'"),
    (lambda d: d["templates"].update(status_update="Next: {nxt}"),
     "status_update: unknown placeholder {nxt}"),
    (lambda d: d.update(statuses=[{"id": "open", "name": "Open"},
                                  {"id": "closed", "name": "Closed"}]),
     "a status with id `resolved` is required"),
])
def test_invalid_playbook_names_file_path_and_problem(mutate, expected: str) -> None:
    with pytest.raises(PlaybookError) as err:
        parse_playbook(_broken(mutate), "pb.yml")
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(PlaybookError, match=r"pb.yml: line 3, column 1: invalid YAML"):
        parse_playbook("name: x\nseverities: [\n", "pb.yml")


def test_check_playbooks_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-playbooks", str(ROOT / "playbooks")]) == 0
    assert "ok: " in capsys.readouterr().out
    (tmp_path / "default.yml").write_text(_broken(
        lambda d: d["severities"][2].update(update_every="soon")))
    assert main(["check-playbooks", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "default.yml: severities[2].update_every: 'soon' is not a duration" in err
    assert main(["check-playbooks", str(tmp_path / "missing")]) == 1
    assert "playbooks folder not found" in capsys.readouterr().err
