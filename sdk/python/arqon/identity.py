"""``did:key`` identities (Ed25519): connect with one instead of a token and the node
challenges the client to sign a single-use nonce (runtime/identity/did_key.ts).

>>> me = arqon.Identity.generate()
>>> bus = await arqon.connect(url, identity=me)   # the node knows us as me.did
"""

from __future__ import annotations

import base58  # Debian: python3-base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # Debian: python3-cryptography
    Ed25519PrivateKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# Multicodec prefix of an Ed25519 public key (ed25519-pub = 0xed, as an unsigned varint).
_ED25519_PREFIX = b"\xed\x01"
_DID_KEY = "did:key:z"


class Identity:
    """An agent's Ed25519 key pair with its ``did:key``. The secret never leaves the
    process; the DID alone lets the node verify signatures, with no registry."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        #: The raw 32-byte public key.
        self.public_key: bytes = private_key.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw
        )
        #: ``did:key:z6Mk...``: multibase base58btc of the multicodec-tagged public key.
        self.did: str = _DID_KEY + base58.b58encode(_ED25519_PREFIX + self.public_key).decode()

    @classmethod
    def generate(cls) -> "Identity":
        """A fresh identity."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> "Identity":
        """The identity of a 32-byte Ed25519 seed (the secret key as stored)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def seed(self) -> bytes:
        """The 32-byte secret seed (store it to keep the same DID)."""
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        return self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def sign(self, message: bytes) -> bytes:
        """An Ed25519 signature of ``message``."""
        return self._key.sign(message)

    def answer_challenge(self, node_id: str, nonce: bytes) -> bytes:
        """The signature a hello carries to answer a node's challenge: over
        ``"arqon.v1.did-challenge\\n<node_id>\\n<did>\\n"`` followed by the nonce, which binds
        the answer to this node and this DID and makes it single-use."""
        head = f"arqon.v1.did-challenge\n{node_id}\n{self.did}\n".encode()
        return self.sign(head + nonce)

    def __repr__(self) -> str:
        return f"Identity({self.did!r})"
