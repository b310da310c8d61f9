"""The fake Slack answers as Slack does, to the real slack_sdk client and to raw HTTP."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.testing.fake_slack import FakeSlack
from tests.conftest import ALICE


@pytest.mark.slack_refusals
async def test_envelopes_and_documented_errors(fake: FakeSlack) -> None:
    client = AsyncWebClient(token="xoxb-t", base_url=fake.url)
    created = await client.conversations_create(name="war-room")
    cid = created["channel"]["id"]
    for name, error in (("War Room", "invalid_name_specials"), ("x" * 81, "invalid_name_maxlength"),
                        ("war-room", "name_taken"), ("", "invalid_name_required")):
        with pytest.raises(SlackApiError) as err:
            await client.conversations_create(name=name)
        assert err.value.response["error"] == error
    await client.conversations_invite(channel=cid, users=ALICE)
    with pytest.raises(SlackApiError, match="already_in_channel"):
        await client.conversations_invite(channel=cid, users=ALICE)
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.chat_postMessage(channel="C404", text="hi")
    with pytest.raises(SlackApiError, match="too_long"):
        await client.conversations_setTopic(channel=cid, topic="t" * 251)
    with pytest.raises(SlackApiError, match="invalid_blocks") as refused:
        await client.chat_postMessage(channel=cid, text="x", blocks=[
            {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}])
    body = refused.value.response.data
    assert body["errors"] and all("[json-pointer:/blocks/0" in e for e in body["errors"])
    assert body["response_metadata"]["messages"][0].startswith("[ERROR] ")
    with pytest.raises(SlackApiError, match="invalid_arguments") as refused:
        await client.views_publish(user_id=ALICE, view={"type": "home", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}]})
    assert "[json-pointer:/view/blocks/0" in str(refused.value.response.data)
    async with aiohttp.ClientSession() as http:  # response_url: HTTP 400, plain error
        async with http.post(fake.response_url(), json={"blocks": [
                {"type": "actions", "elements": []}]}) as r:
            assert (r.status, await r.text()) == (400, "invalid_blocks")
        async with http.post(fake.response_url(), json={"response_type": "ephemeral"}) as r:
            assert (r.status, await r.text()) == (400, "no_text")
    assert [error for error, _ in fake.refusals] == [
        "too_long", "invalid_blocks", "invalid_arguments", "invalid_blocks", "no_text"]
    assert (await client.users_info(user=ALICE))["user"]["name"] == "alice"  # GET
    assert fake.calls_to("users.info")[0].http_method == "GET"


async def test_unknown_method_bad_token_and_faults(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.url}nope.nothing",
                             headers={"Authorization": "Bearer xoxb-t"}) as r:
            assert r.content_type == "application/json"
            assert (await r.json())["error"] == "unknown_method"
        async with http.post(f"{fake.url}auth.test?token=bad") as r:
            assert (await r.json()) == {"ok": False, "error": "invalid_auth"}
        async with http.post(f"{fake.url}api.test?foo=1", json={"bar": 2},
                             headers={"Authorization": "Bearer xoxb-t"}) as r:
            assert (await r.json())["args"] == {"foo": "1", "bar": 2}
        fake.fail("auth.test", status=429, retry_after=7)
        async with http.post(f"{fake.url}auth.test", headers={"Authorization": "Bearer xoxb-t"}
                             ) as r:
            assert r.status == 429 and r.headers["Retry-After"] == "7"
            assert (await r.json())["error"] == "ratelimited"
        fake.fail("auth.test", status=503)
        async with http.post(f"{fake.url}auth.test", headers={"Authorization": "Bearer xoxb-t"}
                             ) as r:
            assert r.status == 503
        async with http.post(f"{fake.url}auth.test", headers={"Authorization": "Bearer xoxb-t"}
                             ) as r:
            assert (await r.json())["ok"] is True


async def test_a_response_url_replaces_or_deletes_the_message_its_button_was_on(
        fake: FakeSlack) -> None:
    """As Slack does for a block action on a message: `replace_original` rewrites that
    message, `delete_original` removes it, and neither touches another message."""
    ch = fake.add_channel("ops")
    keep = fake.human_message(ch.id, ALICE, "unrelated")
    post = fake.human_message(ch.id, ALICE, "with a button")
    gone = fake.human_message(ch.id, ALICE, "to delete")
    replace = fake.response_url(kind="actions", source=(ch.id, post.ts))
    delete = fake.response_url(kind="actions", source=(ch.id, gone.ts))
    async with aiohttp.ClientSession() as s:
        async with s.post(replace, json={"replace_original": True, "text": "decided"}) as r:
            assert r.status == 200
        async with s.post(delete, json={"delete_original": True}) as r:
            assert r.status == 200
    assert [m.text for m in fake.channels[ch.id].messages] == ["unrelated", "decided"]
    assert post.edited and post.blocks == [] and keep.text == "unrelated"
