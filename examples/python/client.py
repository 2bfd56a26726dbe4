#!/usr/bin/python3
"""A SecureComm relay client in Python, generated from proto/ with Debian's python3-grpc-tools.

It shows that the relay API is usable from another language with nothing but the .proto files:
it proves ownership of an identity key, uploads prekeys, fetches a prekey bundle, sends a
sealed envelope to its own mailbox and reads it back on a Subscribe stream, over gRPC on h2c.

The two steps that need Signal cryptography (an XEdDSA signature over the login challenge, and
signed X25519/Kyber1024 prekeys) are delegated to examples/identity-tool.ts, a small Node
helper built on the TypeScript client library: Debian's Python packages have no XEdDSA and no
Kyber, and re-implementing them here would prove nothing about the API. The helper exchanges
the relay API's own protobuf JSON with this script.

Run from anywhere, against a running relay (npm start):
    /usr/bin/python3 examples/python/client.py --relay 127.0.0.1:8080

Prints counts and outcomes only, never keys, tokens or addresses. Exits non-zero on failure.
"""

import argparse
import base64
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROTO_DIR = os.path.join(REPO, "proto")
RELAY_PROTOS = [
    "securecomm/relay/v1/account.proto",
    "securecomm/relay/v1/errors.proto",
    "securecomm/relay/v1/keys.proto",
    "securecomm/relay/v1/messages.proto",
    "securecomm/relay/v1/relay_info.proto",
    "securecomm/relay/v1/rooms.proto",
]
# A Subscribe stream stays open; give up if the expected events have not arrived by then.
STREAM_DEADLINE_SECONDS = 30


def generate(out_dir):
    """Generates Python messages and gRPC stubs for securecomm.relay.v1 into out_dir."""
    from grpc_tools import protoc

    os.makedirs(out_dir, exist_ok=True)
    args = ["grpc_tools.protoc", "-I" + PROTO_DIR, "--python_out=" + out_dir, "--grpc_python_out=" + out_dir]
    if protoc.main(args + RELAY_PROTOS) != 0:
        raise SystemExit("protoc failed")
    sys.path.insert(0, out_dir)


def identity_tool(*args, stdin=None):
    """Runs examples/identity-tool.ts and returns its standard output."""
    node = os.environ.get("NODE", "node")
    result = subprocess.run(
        [node, "--import", "tsx", "examples/identity-tool.ts", *args],
        cwd=REPO, input=stdin, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise SystemExit("identity-tool failed: " + result.stderr.strip())
    return result.stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--relay", default="127.0.0.1:8080", help="host:port of the relay (h2c)")
    options = parser.parse_args()

    work = tempfile.mkdtemp(prefix="securecomm-python-")
    try:
        run(options, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(options, work):
    """The example proper; `work` is a scratch directory for generated code and the identity."""
    generate(os.path.join(work, "gen"))

    import grpc
    from google.protobuf import json_format
    from securecomm.relay.v1 import account_pb2, account_pb2_grpc
    from securecomm.relay.v1 import keys_pb2, keys_pb2_grpc
    from securecomm.relay.v1 import messages_pb2, messages_pb2_grpc
    from securecomm.relay.v1 import relay_info_pb2, relay_info_pb2_grpc

    channel = grpc.insecure_channel(options.relay)
    accounts = account_pb2_grpc.AccountServiceStub(channel)
    keys = keys_pb2_grpc.KeyServiceStub(channel)
    messages = messages_pb2_grpc.MessageServiceStub(channel)
    info = relay_info_pb2_grpc.RelayInfoServiceStub(channel)

    relay = info.GetRelayInfo(relay_info_pb2.GetRelayInfoRequest())
    assert len(relay.trust_root_public_key) == 33, "trust root must be 33 bytes"
    print("relay version", relay.version)

    # 1. Prove ownership of a fresh identity key: challenge, XEdDSA signature, bearer token.
    identity_file = os.path.join(work, "identity.json")
    identity_key = base64.b64decode(identity_tool("new", identity_file))
    challenge = accounts.CreateChallenge(account_pb2.CreateChallengeRequest(identity_key=identity_key))
    proof_json = identity_tool("prove", identity_file, stdin=json_format.MessageToJson(challenge))
    proof = accounts.ProveIdentity(json_format.Parse(proof_json, account_pb2.ProveIdentityRequest()))
    auth = [("authorization", "Bearer " + base64.urlsafe_b64encode(proof.token).decode().rstrip("="))]
    print("proved identity ownership; account created:", proof.created)

    # A wrong signature is refused with UNAUTHENTICATED.
    second = accounts.CreateChallenge(account_pb2.CreateChallengeRequest(identity_key=identity_key))
    bad = json_format.Parse(identity_tool("prove", identity_file, stdin=json_format.MessageToJson(second)),
                            account_pb2.ProveIdentityRequest())
    bad.signature = bytes(64)
    try:
        accounts.ProveIdentity(bad)
        raise SystemExit("a zero signature was accepted")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.code()
        print("bad signature refused:", error.code().name)

    # 2. Upload a signed prekey, one-time EC and Kyber prekeys and a last-resort Kyber prekey.
    upload_json = identity_tool("prekeys", identity_file, "3")
    upload = keys.UploadPreKeys(json_format.Parse(upload_json, keys_pb2.UploadPreKeysRequest()), metadata=auth)
    print("uploaded prekeys: one-time EC", upload.counts.one_time_pre_keys,
          "one-time Kyber", upload.counts.kyber_pre_keys)

    # 3. Fetch a bundle (our own address here, so the example needs one account only).
    fetched = keys.FetchPreKeyBundle(keys_pb2.FetchPreKeyBundleRequest(address=proof.address), metadata=auth)
    assert fetched.WhichOneof("result") == "bundle", fetched.WhichOneof("result")
    bundle = fetched.bundle
    assert bundle.identity_key == identity_key
    assert bundle.HasField("one_time_pre_key") and bundle.HasField("kyber_pre_key")
    counts = keys.GetPreKeyCounts(keys_pb2.GetPreKeyCountsRequest(), metadata=auth).counts
    print("fetched a bundle; one-time prekeys left: EC", counts.one_time_pre_keys, "Kyber", counts.kyber_pre_keys)

    # 4. Set a delivery token, send a sealed envelope to our mailbox, read it on Subscribe.
    delivery_token = secrets.token_bytes(32)
    accounts.SetDeliveryToken(
        account_pb2.SetDeliveryTokenRequest(delivery_token_hash=hashlib.sha256(delivery_token).digest()),
        metadata=auth)
    envelope = b"\x11" + secrets.token_bytes(64)  # opaque to the relay
    messages.SendSealed(messages_pb2.SendSealedRequest(
        recipient_address=proof.address, delivery_token=delivery_token, envelope=envelope))

    stream = messages.Subscribe(messages_pb2.SubscribeRequest(), metadata=auth, timeout=STREAM_DEADLINE_SECONDS)
    received = []
    for event in stream:
        kind = event.WhichOneof("event")
        if kind == "mailbox":
            received.extend(event.mailbox.envelopes)
        if kind == "caught_up":
            break
    stream.cancel()
    assert [e.envelope for e in received] == [envelope], "expected exactly our envelope"
    messages.AckMessages(messages_pb2.AckMessagesRequest(ids=[e.id for e in received]), metadata=auth)
    print("subscribe delivered", len(received), "envelope(s), then caught up; acknowledged")

    accounts.DeleteAccount(account_pb2.DeleteAccountRequest(), metadata=auth)
    channel.close()
    print("python example: ok")


if __name__ == "__main__":
    main()
