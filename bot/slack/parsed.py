"""What a `/incident` command parses into: one small type per command (`parsing` makes
them; `commands` acts on them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Declare:
    title: str
    severity: str | None = None
    is_private: bool | None = None  # None: as the type says
    notice: str = ""  # said to the person when their text was cut
    type: str | None = None


@dataclass(frozen=True)
class DeclareModal:
    severity: str | None = None
    is_private: bool | None = None
    type: str | None = None


@dataclass(frozen=True)
class ChangeType:
    type: str
    keep_public: bool = False  # `--public`: a private-by-default type on a public channel


@dataclass(frozen=True)
class PageOnCall:
    target: str  # pagerduty:<service> or opsgenie:<team>
    message: str


@dataclass(frozen=True)
class ShowRunbook:
    type: str  # '' for the incident's own


@dataclass(frozen=True)
class AssignRole:
    role: str
    user: str


@dataclass(frozen=True)
class ChangeSeverity:
    severity: str


@dataclass(frozen=True)
class PostUpdate:
    status: str
    message: str
    notice: str = ""  # said to the person when their text was cut


@dataclass(frozen=True)
class Resolve:
    summary: str
    notice: str = ""  # said to the person when their text was cut


@dataclass(frozen=True)
class ListOpen:
    type: str = ""  # '' for every type


@dataclass(frozen=True)
class AddNote:
    text: str
    notice: str = ""  # said to the person when their text was cut


@dataclass(frozen=True)
class ShowTimeline:
    pass


@dataclass(frozen=True)
class Postmortem:
    done: bool = False  # `postmortem done`: mark it written, instead of building a draft


@dataclass(frozen=True)
class PostChecklist:
    checklist: str  # '' lists the available ones


@dataclass(frozen=True)
class ShowStats:
    period: str  # a key of stats.PERIODS


@dataclass(frozen=True)
class Usage:
    """The input was wrong: `message` tells the person what to type instead."""

    message: str
    show_help: bool = False


Command = (Help | Declare | DeclareModal | AssignRole | ChangeSeverity | PostUpdate | Resolve
           | ListOpen | AddNote | ShowTimeline | Postmortem | PostChecklist | ShowStats
           | ChangeType | ShowRunbook | PageOnCall | Usage)
