"""Authentication against a node with a token key and did:key grants (started by
tests/python_sdk_test.ts): a bad token is refused with a typed error, a good one connects
and its grants apply, a did:key identity answers the node's challenge."""

from __future__ import annotations

import pytest

import arqon
from conftest import need, run


@run
async def test_bad_token_is_refused() -> None:
    url = need("ARQON_AUTH_URL")
    with pytest.raises(arqon.Unauthorized) as e:
        await arqon.connect(url, name="intruder", token="not.a.jwt", reconnect=False)
    assert e.value.code == "UNAUTHORIZED" and e.value.message
    with pytest.raises(arqon.Unauthorized):
        await arqon.connect(url, name="anonymous", reconnect=False)


@run
async def test_token_grants_apply() -> None:
    url, token = need("ARQON_AUTH_URL"), need("ARQON_AUTH_TOKEN")
    async with arqon.connect(url, name="alice", token=token) as bus:
        sub = await bus.subscribe("orders.>", reality="lab")
        ack = await bus.publish("orders.eu.created", b"ok", reality="lab")
        assert ack.sequence >= 1
        assert (await sub.next(timeout=5)).producer == "alice"
        with pytest.raises(arqon.Forbidden) as e:
            await bus.publish("payments.eu.created", b"no", reality="lab")
        assert e.value.code == "FORBIDDEN"
        with pytest.raises(arqon.Forbidden):
            await bus.subscribe("payments.>", reality="lab")
        assert (await bus.publish("orders.us.created", b"still", reality="lab")).sequence > 0


# A SAM card; with auth on, it may list only realities the grants allow (this DID: "lab").
CARD = {"capabilities": ["summarize"], "realities": ["lab"]}


@run
async def test_did_key_identity() -> None:
    url = need("ARQON_AUTH_URL")
    seed = bytes.fromhex(need("ARQON_AUTH_DID_SEED"))
    me = arqon.Identity.from_seed(seed)
    assert me.did == need("ARQON_AUTH_DID"), "same did:key as the TypeScript identity module"
    async with arqon.connect(url, name="agent", identity=me, card=CARD) as bus:
        sub = await bus.subscribe("agents.>", reality="lab")
        await bus.publish("agents.report", {"ok": True}, reality="lab")
        pulse = await sub.next(timeout=5)
        assert pulse.json() == {"ok": True} and pulse.producer
        assert bus.card == CARD
    stranger = arqon.Identity.generate()
    assert stranger.did.startswith("did:key:z6Mk")
    with pytest.raises(arqon.Forbidden) as e:  # a DID the grants do not list
        await arqon.connect(url, identity=stranger, reconnect=False)
    assert stranger.did in e.value.message or e.value.message
