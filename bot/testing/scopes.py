"""Which OAuth scopes each Web API method needs, for the fake Slack to refuse what Slack
refuses (`missing_scope`).

`METHOD_SCOPES` is the bot-token column of Slack's published method reference for the
methods the fake implements (tests/slack_methods/ keeps the reference itself, and
tests/test_manifest.py checks this table against it). For conversations.* methods the list
names one scope per conversation type: `channels:*` for public channels, `groups:*` for
private ones, `im:*` and `mpim:*` for direct messages; a call needs one of the scopes of the
type it touches. Other methods need any one of theirs.
"""

from __future__ import annotations

from pathlib import Path

import yaml

METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "apps.connections.open": (),
    "auth.test": (),
    "bookmarks.add": ("bookmarks:write",),
    "bookmarks.list": ("bookmarks:read",),
    "chat.delete": ("chat:write",),
    "chat.getPermalink": (),
    "chat.postEphemeral": ("chat:write",),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "conversations.archive": ("channels:manage", "channels:write", "groups:write", "im:write",
                              "mpim:write"),
    "conversations.create": ("channels:manage", "channels:write", "groups:write", "im:write",
                             "mpim:write"),
    "conversations.history": ("channels:history", "groups:history", "im:history",
                              "mpim:history"),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.invite": ("channels:manage", "channels:write.invites", "groups:write",
                             "groups:write.invites", "im:write", "mpim:write"),
    "conversations.join": ("channels:join",),
    "conversations.list": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.members": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.replies": ("channels:history", "groups:history", "im:history",
                              "mpim:history"),
    "conversations.setPurpose": ("channels:manage", "channels:write.topic", "groups:write",
                                 "groups:write.topic", "im:write", "im:write.topic",
                                 "mpim:write", "mpim:write.topic"),
    "conversations.setTopic": ("channels:manage", "channels:write.topic", "groups:write",
                               "groups:write.topic", "im:write", "im:write.topic",
                               "mpim:write", "mpim:write.topic"),
    "files.completeUploadExternal": ("files:write",),
    "files.getUploadURLExternal": ("files:write",),
    "oauth.v2.access": (),
    "pins.add": ("pins:write",),
    "pins.list": ("pins:read",),
    "pins.remove": ("pins:write",),
    "usergroups.list": ("usergroups:read",),
    "users.info": ("users:read",),
    "views.open": (),
    "views.publish": (),
    "views.push": (),
    "views.update": (),
}

# A conversation type, as `conversations.list` names it, and its scope family.
FAMILIES = {"public_channel": "channels", "private_channel": "groups", "im": "im",
            "mpim": "mpim"}
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def needed(method: str, conversation_types: set[str]) -> list[frozenset[str]]:
    """What a call needs: one of each returned set. For a conversations.* method, a set per
    conversation type it touches; otherwise the method's scopes (any one of them)."""
    scopes = METHOD_SCOPES.get(method, ())
    if not scopes:
        return []
    families = {s.split(":")[0] for s in scopes}
    if not families & set(FAMILIES.values()) or not conversation_types:
        return [frozenset(scopes)]
    per_type = [frozenset(s for s in scopes if s.split(":")[0] == FAMILIES[t])
                for t in sorted(conversation_types)]
    return [n for n in per_type if n]  # a type no scope admits: the method itself refuses


def manifest_scopes(path: Path = MANIFEST) -> frozenset[str] | None:
    """The bot scopes manifest.yml asks for; None outside a source checkout (an installed
    package has no manifest, and its fake then checks no scopes)."""
    if not path.is_file():
        return None
    return frozenset(yaml.safe_load(path.read_text())["oauth_config"]["scopes"]["bot"])
