"""A FAKE of the Compute Engine v1 REST API, whose instances "boot" as SSH test hosts.

Compute Engine has no emulator, so the ``gcp_compute`` tests talk to this fake instead. It is
not Google's service: it speaks the REST shapes ``google-cloud-compute``'s REST transport sends
and parses (paths ``/compute/v1/projects/P/zones/Z/instances...``, camelCase JSON, 64-bit
integers as strings, zone and global operations with ``GET``/``POST .../wait``, errors as
``{"error": {"code", "message", "errors": [{"reason"}]}}``), and only what the provider uses:

* instances: insert, get, list (``filter`` on ``labels.K`` / ``status`` / ``name`` with ``=``
  and ``!=`` joined by ``AND``, ``maxResults``/``pageToken``), start, stop, resume, delete,
  setMetadata (refused with 412 ``conditionNotMet`` unless it carries the current
  ``fingerprint``, as Compute Engine does);
  states move PROVISIONING -> STAGING -> RUNNING, STOPPING -> TERMINATED (Compute Engine's word
  for a stopped instance) and are done when their operation is DONE;
* one subnetwork per region (its ``ipCidrRange`` is the test network's subnet) of the network
  ``default``; firewalls (insert, get, list); images are only checked by name.

:class:`SshMachines` plays the hypervisor: an instance that runs is an SSH test host container
at the instance's ``networkIP`` (allocated from the subnet at insert, as Compute Engine does),
and, like Google's guest agent, every key of the instance's ``ssh-keys`` metadata item is
installed for its user when the instance boots, and a key that ``setMetadata`` adds to a
running instance is installed a moment after the operation is done (the agent watches the
metadata server; :data:`AGENT_DELAY_S`). Stopping stops the container (its disk is
kept), starting starts it again, deleting removes it. Without machines, instances are records
only (their addresses are never connected to).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
import shlex
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeComputeEngine", "Machines", "SshMachines"]

API = "/compute/v1"
#: Images the fake knows, by ``project/family-or-name``.
KNOWN_IMAGES = {
    "ubuntu-os-cloud/ubuntu-2404-lts-amd64",
    "ubuntu-os-cloud/ubuntu-2204-lts",
    "debian-cloud/debian-12",
}
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL = re.compile(r"^[a-z][-_a-z0-9]{0,62}$")
_TERM = re.compile(r'^\(?\s*([\w.-]+)\s*(=|!=|eq|ne)\s*"?([^")\s]*)"?\s*\)?$')
#: How long ``POST .../wait`` holds a request (Compute Engine: up to 2 minutes).
_WAIT_S = 10.0
#: How long after a setMetadata the guest agent installs the keys it added.
AGENT_DELAY_S = 1.0


class Machines(Protocol):
    """What runs an instance: ``boot`` and ``resume`` block until it answers SSH."""

    def boot(self, name: str, address: str, ssh_keys: list[tuple[str, str]]) -> None: ...

    def resume(self, name: str, ssh_keys: list[tuple[str, str]]) -> None: ...

    def add_keys(self, name: str, ssh_keys: list[tuple[str, str]]) -> None: ...

    def halt(self, name: str) -> None: ...

    def remove(self, name: str) -> None: ...


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


@dataclass
class _Operation:
    body: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)


class FakeComputeEngine:
    """The fake API on a loopback port; ``endpoint`` is what ``api_endpoint`` takes."""

    def __init__(
        self,
        project: str,
        region: str,
        subnet: str,
        machines: Machines | None = None,
    ) -> None:
        self.project = project
        self.region = region
        self.subnet = ipaddress.ip_network(subnet)
        self.machines = machines
        self.instances: dict[tuple[str, str], dict[str, Any]] = {}
        self.firewalls: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, _Operation] = {}
        self.errors: list[BaseException] = []
        #: (method, path) of every request, for assertions on what the client did
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(7_100_000_000_000_000_001)
        self._threads: list[threading.Thread] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # else ~40 ms per small response
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, answer = fake.handle(method, self.path, raw)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._serving = threading.Thread(
            target=self._server.serve_forever, name="fake-compute", daemon=True
        )
        self._serving.start()

    def stop(self) -> None:
        """Stop serving; the machines still running are the caller's (SshMachines.close)."""
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(60)

    # -- what tests look at ----------------------------------------------------------------

    def instance(self, name: str, zone: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.instances.get((zone, name))
            return json.loads(json.dumps(found)) if found else None

    def in_zone(self, zone: str, *statuses: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                name: json.loads(json.dumps(i))
                for (z, name), i in self.instances.items()
                if z == zone and (not statuses or i["status"] in statuses)
            }

    def subnet_link(self) -> str:
        return self._link(f"regions/{self.region}/subnetworks/default")

    # -- dispatch ----------------------------------------------------------------------------

    def handle(self, method: str, target: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path
        self.requests.append((method, path))
        try:
            if not path.startswith(f"{API}/projects/"):
                raise ApiError(404, "notFound", f"no such path {path}")
            parts = path[len(f"{API}/projects/") :].split("/")
            project, rest = parts[0], parts[1:]
            if project != self.project:
                raise ApiError(
                    403, "forbidden", f"Project {project} does not exist or is not yours"
                )
            body = json.loads(raw) if raw else {}
            return 200, self._route(method, rest, query, body)
        except ApiError as exc:
            return exc.status, {
                "error": {
                    "code": exc.status,
                    "message": exc.message,
                    "errors": [{"message": exc.message, "domain": "global", "reason": exc.reason}],
                }
            }
        except Exception as exc:  # a bug of the fake: the test sees a 500 and the reason
            self.errors.append(exc)
            return 500, {"error": {"code": 500, "message": f"fake: {exc!r}", "errors": []}}

    def _route(
        self, method: str, rest: list[str], query: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        match (method, rest):
            case ("POST", ["zones", zone, "instances"]):
                return self._insert(zone, body)
            case ("GET", ["zones", zone, "instances"]):
                return self._list(zone, query)
            case ("GET", ["zones", zone, "instances", name]):
                return self._get(zone, name)
            case ("DELETE", ["zones", zone, "instances", name]):
                return self._change(zone, name, "delete")
            case (
                "POST",
                ["zones", zone, "instances", name, ("start" | "stop" | "resume") as verb],
            ):
                return self._change(zone, name, verb)
            case ("POST", ["zones", zone, "instances", name, "setMetadata"]):
                return self._set_metadata(zone, name, body)
            case ("GET", ["zones", zone, "operations", op]):
                return self._operation(op, f"zones/{zone}", wait=False)
            case ("POST", ["zones", zone, "operations", op, "wait"]):
                return self._operation(op, f"zones/{zone}", wait=True)
            case ("GET", ["global", "operations", op]):
                return self._operation(op, "global", wait=False)
            case ("POST", ["global", "operations", op, "wait"]):
                return self._operation(op, "global", wait=True)
            case ("GET", ["regions", region, "subnetworks", name]):
                return self._subnetwork(region, name)
            case ("GET", ["global", "firewalls", name]):
                with self._lock:
                    if name not in self.firewalls:
                        raise ApiError(404, "notFound", self._missing(f"global/firewalls/{name}"))
                    return self.firewalls[name]
            case ("GET", ["global", "firewalls"]):
                with self._lock:
                    return {"kind": "compute#firewallList", "items": list(self.firewalls.values())}
            case ("POST", ["global", "firewalls"]):
                return self._insert_firewall(body)
        raise ApiError(404, "notFound", f"the fake has no {method} {'/'.join(rest)}")

    # -- instances -------------------------------------------------------------------------

    def _insert(self, zone: str, body: dict[str, Any]) -> dict[str, Any]:
        self._check_zone(zone)
        name = str(body.get("name") or "")
        if not _NAME.match(name):
            raise ApiError(
                400,
                "invalid",
                f"Invalid value for field 'resource.name': '{name}'. Must be a match of regex "
                f"'(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)'",
            )
        machine_type = str(body.get("machineType") or "")
        if not re.search(rf"zones/{zone}/machineTypes/[a-z0-9-]+$", machine_type):
            raise ApiError(
                400, "invalid", f"Invalid value for field 'resource.machineType': '{machine_type}'"
            )
        disks = body.get("disks") or []
        boot = [d for d in disks if d.get("boot")]
        if len(boot) != 1:
            raise ApiError(400, "invalid", "exactly one boot disk is required")
        image = str((boot[0].get("initializeParams") or {}).get("sourceImage") or "")
        found = re.search(r"projects/([^/]+)/global/images/(?:family/)?([^/]+)$", image)
        if not found or f"{found[1]}/{found[2]}" not in KNOWN_IMAGES:
            raise ApiError(404, "notFound", self._missing(image or "sourceImage"))
        for key, value in (body.get("labels") or {}).items():
            if not _LABEL.match(key) or len(str(value)) > 63:
                raise ApiError(400, "invalid", f"Invalid label {key!r}={value!r}")
        nics = body.get("networkInterfaces") or []
        if len(nics) != 1:
            raise ApiError(400, "invalid", "the fake supports exactly one network interface")
        nic = dict(nics[0])
        subnetwork = str(nic.get("subnetwork") or "")
        if subnetwork and not subnetwork.endswith(f"regions/{self.region}/subnetworks/default"):
            raise ApiError(404, "notFound", self._missing(subnetwork))
        with self._lock:
            if (zone, name) in self.instances:
                link = self._link(f"zones/{zone}/instances/{name}")
                raise ApiError(409, "alreadyExists", f"The resource '{link}' already exists")
            nic["network"] = self._link("global/networks/default")
            nic["subnetwork"] = self.subnet_link()
            nic["networkIP"] = self._free_address()
            nic["name"] = "nic0"
            nic["kind"] = "compute#networkInterface"
            for number, access in enumerate(nic.get("accessConfigs") or []):
                access.setdefault("type", "ONE_TO_ONE_NAT")
                # TEST-NET-3: documentation addresses, never routed, never connected to.
                access["natIP"] = f"203.0.113.{len(self.instances) % 250 + number + 1}"
                access["kind"] = "compute#accessConfig"
            instance = {
                **body,
                "kind": "compute#instance",
                "id": str(next(self._ids)),
                "creationTimestamp": _now(),
                "zone": self._link(f"zones/{zone}"),
                "machineType": self._link(machine_type[machine_type.index("zones/") :]),
                "status": "PROVISIONING",
                "networkInterfaces": [nic],
                "selfLink": self._link(f"zones/{zone}/instances/{name}"),
                "labelFingerprint": uuid.uuid4().hex[:12],
                "metadata": {
                    **(body.get("metadata") or {}),
                    "kind": "compute#metadata",
                    "fingerprint": uuid.uuid4().hex[:12],
                },
            }
            self.instances[(zone, name)] = instance
            op = self._new_operation("insert", zone, instance)
        self._background(op, lambda: self._boot(zone, name))
        return op.body

    def _get(self, zone: str, name: str) -> dict[str, Any]:
        self._check_zone(zone)
        found = self.instance(name, zone)
        if found is None:
            raise ApiError(404, "notFound", self._missing(f"zones/{zone}/instances/{name}"))
        return found

    def _list(self, zone: str, query: dict[str, str]) -> dict[str, Any]:
        self._check_zone(zone)
        test = _parse_filter(query.get("filter", ""))
        with self._lock:
            matching = [
                json.loads(json.dumps(i))
                for (z, _), i in sorted(self.instances.items())
                if z == zone and test(i)
            ]
        size = int(query.get("maxResults") or 500)
        start = int(query.get("pageToken") or 0)
        answer: dict[str, Any] = {
            "kind": "compute#instanceList",
            "id": f"projects/{self.project}/zones/{zone}/instances",
            "items": matching[start : start + size],
            "selfLink": self._link(f"zones/{zone}/instances"),
        }
        if start + size < len(matching):
            answer["nextPageToken"] = str(start + size)
        return answer

    def _change(self, zone: str, name: str, verb: str) -> dict[str, Any]:
        self._check_zone(zone)
        with self._lock:
            instance = self.instances.get((zone, name))
            if instance is None:
                raise ApiError(404, "notFound", self._missing(f"zones/{zone}/instances/{name}"))
            status = instance["status"]
            if verb == "start" and status not in ("TERMINATED", "RUNNING"):
                raise ApiError(
                    400,
                    "resourceNotReady" if status == "STOPPING" else "badRequest",
                    f"The resource '{instance['selfLink']}' is not ready ({status})",
                )
            if verb == "resume" and status != "SUSPENDED":
                raise ApiError(400, "badRequest", f"instance {name} is not suspended ({status})")
            op = self._new_operation(verb, zone, instance)
            if verb == "start" and status == "RUNNING":
                self._finish(op)
                return op.body
            if verb == "stop" and status == "TERMINATED":
                self._finish(op)
                return op.body
            instance["status"] = {"start": "STAGING", "resume": "STAGING"}.get(verb, "STOPPING")
        work = {
            "start": lambda: self._resume(zone, name),
            "resume": lambda: self._resume(zone, name),
            "stop": lambda: self._halt(zone, name),
            "delete": lambda: self._remove(zone, name),
        }[verb]
        self._background(op, work)
        return op.body

    def _set_metadata(self, zone: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self._check_zone(zone)
        with self._lock:
            instance = self.instances.get((zone, name))
            if instance is None:
                raise ApiError(404, "notFound", self._missing(f"zones/{zone}/instances/{name}"))
            if body.get("fingerprint") != instance["metadata"].get("fingerprint"):
                raise ApiError(
                    412,
                    "conditionNotMet",
                    "Supplied fingerprint does not match current metadata fingerprint.",
                )
            before = set(_ssh_keys(instance))
            instance["metadata"] = {
                "kind": "compute#metadata",
                "items": list(body.get("items") or []),
                "fingerprint": uuid.uuid4().hex[:12],
            }
            added = [k for k in _ssh_keys(instance) if k not in before]
            running = instance["status"] == "RUNNING"
            op = self._new_operation("setMetadata", zone, instance)
            self._finish(op)
        if added and running and self.machines is not None:
            machines = self.machines

            def agent() -> None:
                time.sleep(AGENT_DELAY_S)
                try:
                    machines.add_keys(name, added)
                except BaseException as exc:  # reported to the test through .errors
                    self.errors.append(exc)

            thread = threading.Thread(target=agent, name=f"fake-agent-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return op.body

    def _boot(self, zone: str, name: str) -> None:
        with self._lock:
            instance = self.instances[(zone, name)]
            instance["status"] = "STAGING"
            address = instance["networkInterfaces"][0]["networkIP"]
            keys = _ssh_keys(instance)
        if self.machines is not None:
            self.machines.boot(name, address, keys)
        self._set_status(zone, name, "RUNNING")

    def _resume(self, zone: str, name: str) -> None:
        with self._lock:
            keys = _ssh_keys(self.instances[(zone, name)])
        if self.machines is not None:
            self.machines.resume(name, keys)
        self._set_status(zone, name, "RUNNING")

    def _halt(self, zone: str, name: str) -> None:
        if self.machines is not None:
            self.machines.halt(name)
        self._set_status(zone, name, "TERMINATED")

    def _remove(self, zone: str, name: str) -> None:
        if self.machines is not None:
            self.machines.remove(name)
        with self._lock:
            self.instances.pop((zone, name), None)

    def _set_status(self, zone: str, name: str, status: str) -> None:
        with self._lock:
            instance = self.instances.get((zone, name))
            if instance is not None:
                instance["status"] = status
                if status == "RUNNING":
                    instance["lastStartTimestamp"] = _now()

    # -- network ---------------------------------------------------------------------------

    def _subnetwork(self, region: str, name: str) -> dict[str, Any]:
        if region != self.region or name != "default":
            raise ApiError(404, "notFound", self._missing(f"regions/{region}/subnetworks/{name}"))
        return {
            "kind": "compute#subnetwork",
            "id": "5300000000000000001",
            "name": name,
            "network": self._link("global/networks/default"),
            "ipCidrRange": str(self.subnet),
            "gatewayAddress": str(next(self.subnet.hosts())),
            "region": self._link(f"regions/{region}"),
            "selfLink": self._link(f"regions/{region}/subnetworks/{name}"),
        }

    def _insert_firewall(self, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("name") or "")
        if not _NAME.match(name):
            raise ApiError(400, "invalid", f"Invalid value for field 'resource.name': '{name}'")
        with self._lock:
            if name in self.firewalls:
                raise ApiError(409, "alreadyExists", f"firewall {name} already exists")
            firewall = {
                **body,
                "kind": "compute#firewall",
                "id": str(next(self._ids)),
                "creationTimestamp": _now(),
                "direction": body.get("direction") or "INGRESS",
                "priority": body.get("priority") or 1000,
                "selfLink": self._link(f"global/firewalls/{name}"),
            }
            self.firewalls[name] = firewall
            op = self._new_operation("insert", None, firewall)
            self._finish(op)
        return op.body

    # -- operations ------------------------------------------------------------------------

    def _new_operation(self, kind: str, zone: str | None, target: dict[str, Any]) -> _Operation:
        name = f"operation-{int(time.time() * 1000)}-{uuid.uuid4().hex[:12]}"
        scope = f"zones/{zone}" if zone else "global"
        body: dict[str, Any] = {
            "kind": "compute#operation",
            "id": str(next(self._ids)),
            "name": name,
            "operationType": kind,
            "targetLink": target["selfLink"],
            "targetId": target["id"],
            "status": "RUNNING",
            "user": "anonymous@fake-compute",
            "progress": 0,
            "insertTime": _now(),
            "startTime": _now(),
            "selfLink": self._link(f"{scope}/operations/{name}"),
        }
        if zone:
            body["zone"] = self._link(f"zones/{zone}")
        op = _Operation(body)
        self.operations[name] = op
        return op

    def _finish(self, op: _Operation, error: BaseException | None = None) -> None:
        with self._lock:
            op.body.update(status="DONE", progress=100, endTime=_now())
            if error is not None:
                op.body["httpErrorStatusCode"] = 500
                op.body["error"] = {
                    "errors": [{"code": "INTERNAL_ERROR", "message": f"fake: {error!r}"}]
                }
        op.done.set()

    def _background(self, op: _Operation, work: Callable[[], None]) -> None:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # reported to the test through .errors
                self.errors.append(exc)
                self._finish(op, exc)
            else:
                self._finish(op)

        thread = threading.Thread(target=run, name=f"fake-compute-{op.body['name']}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _operation(self, name: str, scope: str, wait: bool) -> dict[str, Any]:
        op = self.operations.get(name)
        if op is None or not op.body["selfLink"].endswith(f"{scope}/operations/{name}"):
            raise ApiError(404, "notFound", self._missing(f"{scope}/operations/{name}"))
        if wait:
            op.done.wait(_WAIT_S)
        with self._lock:
            return dict(op.body)

    # -- helpers -----------------------------------------------------------------------------

    def _check_zone(self, zone: str) -> None:
        if not zone.startswith(f"{self.region}-"):
            raise ApiError(
                400, "invalid", f"Invalid value for field 'zone': '{zone}'. Unknown zone."
            )

    def _link(self, path: str) -> str:
        return f"https://www.googleapis.com{API}/projects/{self.project}/{path}"

    def _missing(self, what: str) -> str:
        return f"The resource '{what}' was not found"

    def _free_address(self) -> str:
        taken = {i["networkInterfaces"][0]["networkIP"] for i in self.instances.values()}
        # .2-.99 are left to the engine (hosts made directly by the factory).
        for address in itertools.islice(self.subnet.hosts(), 99, None):
            if str(address) not in taken:
                return str(address)
        raise ApiError(409, "ipSpaceExhausted", f"no free address left in {self.subnet}")


def _ssh_keys(instance: dict[str, Any]) -> list[tuple[str, str]]:
    """``user:key`` lines of the ``ssh-keys`` metadata item, as the guest agent reads them."""
    keys = []
    for item in (instance.get("metadata") or {}).get("items") or []:
        if item.get("key") != "ssh-keys":
            continue
        for line in str(item.get("value") or "").splitlines():
            user, sep, key = line.strip().partition(":")
            if sep and user and key:
                keys.append((user, key.strip()))
    return keys


def _parse_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """``labels.a = b AND status != TERMINATED``; anything else is a 400, as unparseable."""
    terms = [t for t in re.split(r"\s+AND\s+|\)\s*\(", text.strip()) if t.strip()]
    tests = []
    for term in terms:
        found = _TERM.match(term.strip())
        if not found:
            raise ApiError(400, "invalid", f"Invalid list filter expression '{text}'")
        key, op, value = found[1], found[2], found[3]

        def test(i: dict[str, Any], key: str = key, op: str = op, value: str = value) -> bool:
            if key.startswith("labels."):
                actual = (i.get("labels") or {}).get(key[len("labels.") :])
            elif key in ("status", "name"):
                actual = i.get(key)
            else:
                raise ApiError(400, "invalid", f"the fake cannot filter on {key!r}")
            same = actual == value
            return same if op in ("=", "eq") else not same

        tests.append(test)
    return lambda i: all(t(i) for t in tests)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class SshMachines:
    """Runs the fake's instances as SSH test hosts of ``factory`` at their networkIP."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.hosts: dict[str, Any] = {}
        self._lock = threading.Lock()

    def host_name(self, instance: str) -> str:
        return f"lithops-test-{self.factory.session}-{instance}"

    def boot(self, name: str, address: str, ssh_keys: list[tuple[str, str]]) -> None:
        host = self.factory.make(name=self.host_name(name), address=address)
        with self._lock:
            self.hosts[name] = host
        _install_keys(host, ssh_keys)

    def resume(self, name: str, ssh_keys: list[tuple[str, str]]) -> None:
        host = self.hosts[name]
        host.container.start()
        host.wait_ready()
        _install_keys(host, ssh_keys)  # the start script rewrote authorized_keys

    def add_keys(self, name: str, ssh_keys: list[tuple[str, str]]) -> None:
        _install_keys(self.hosts[name], ssh_keys)

    def halt(self, name: str) -> None:
        self.hosts[name].container.stop(timeout=1)

    def remove(self, name: str) -> None:
        with self._lock:
            host = self.hosts.pop(name, None)
        if host is not None:
            host.container.remove(force=True, v=True)

    def running(self) -> set[str]:
        with self._lock:
            hosts = dict(self.hosts)
        return {name for name, host in hosts.items() if host.is_running()}

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.hosts))


def _install_keys(host: Any, ssh_keys: list[tuple[str, str]]) -> None:
    """What Google's guest agent does at boot: each metadata key logs in as its user."""
    for user, key in ssh_keys:
        q = shlex.quote(user)
        home = f"$(getent passwd {q} | cut -d: -f6)"
        script = (
            # Without PAM, sshd refuses a locked account ('!'): unlock it as the image does.
            f"id -u {q} >/dev/null 2>&1 || {{ useradd --create-home --shell /bin/bash {q} && "
            f"usermod --password '*' {q}; }}; "
            f'h={home}; mkdir -p "$h/.ssh"; '
            f'printf "%s\\n" {shlex.quote(key)} >> "$h/.ssh/authorized_keys"; '
            f'chmod 700 "$h/.ssh"; chmod 600 "$h/.ssh/authorized_keys"; '
            f'chown -R {q}: "$h/.ssh"'
        )
        code, output = host.exec(script)
        if code != 0:
            raise RuntimeError(f"installing the key of {user} on {host.name} failed: {output}")
