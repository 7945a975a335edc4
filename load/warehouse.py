"""Warehouse load for Odoo 17/18 (or the Odoo double): pickers, receivers, order feeds, reports.

Run it on its own (web UI on http://127.0.0.1:8089 unless --headless):

    locust -f load/warehouse.py --host http://127.0.0.1:8069 \
        --catalog catalog.json --profile smoke \
        --odoo-db odoo --odoo-login admin [--records /tmp/records.jsonl]
    # the password: --odoo-password, or better env ODOO_LOAD_PASSWORD (kept out of `ps`)

Custom options (each also read from the environment variable named):

    --catalog PATH         (LOAD_CATALOG) seed catalog JSON: `odoo-resilience seed --catalog PATH`
    --profile NAME         (LOCUST_PROFILE, default smoke) a profile of --profiles-file; this
                           is Locust's own --profile (its report label), so both agree
    --profiles-file PATH   (LOAD_PROFILES_FILE) default fixtures/load-profiles.yaml
    --odoo-db / --odoo-login / --odoo-password   (ODOO_LOAD_DB / _LOGIN / _PASSWORD)
    --records PATH         (LOAD_RECORDS) append one JSON line per request to PATH, or to
                           PATH.<pid> in each worker process with --processes/--worker

Environment only: LOAD_OWNER_PID (set by the harness) makes the run quit within a second
of that process being gone, so a load never outlives the run that started it.

The profile decides the user mix (weights, think times) and the shape (stages of users,
spawn rate, duration); -u/-r/-t are ignored because a LoadTestShape is defined.

Every request is one raw JSON-RPC POST to ``/jsonrpc`` (``common.login`` or
``object.execute_kw``), the calls of harness/odoo/flows.py, so this file classifies each
answer itself: an ``error`` envelope (HTTP 200 in Odoo) is a failure named by
``error.data.name``; a non-JSON answer is ``HTTP <status>``; a transport failure is named
by its exception class, and a timeout is its own outcome. The record format is
harness/load/records.py; Locust's own statistics (--csv, --json) see the same failures.

Only harness.load.{catalog,profiles,records} are imported from the harness: they are pure,
so nothing here drags the harness's HTTP clients into Locust's gevent-patched process.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import uuid
from pathlib import Path

import gevent
from gevent import Timeout as GeventTimeout
from locust import FastHttpUser, LoadTestShape, between, constant, constant_pacing, events, task
from locust.runners import MasterRunner, WorkerRunner

from harness.load.catalog import LoadCatalog, read_catalog
from harness.load.profiles import (
    DEFAULT_LOAD_PROFILES,
    LoadProfile,
    UserRole,
    load_profiles,
)
from harness.load.records import encode_record

# Odoo's error names for database-tier failures (harness/odoo/errors.py): a write that
# failed with one of these may have committed, so its outcome is unknown.
INFRA_NAME_PREFIXES = ("psycopg2.", "psycopg.")
# Statuses a proxy returns after it may have forwarded the request (harness/odoo/errors.py).
STATUSES_AFTER_FORWARDING = frozenset({500, 502, 504})
NO_BACKORDER = "picking_ids_not_to_backorder"
OPEN_DELIVERIES_SCANNED = 10
DEFAULT_PROFILE = "smoke"


@events.init_command_line_parser.add_listener
def _options(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--catalog", env_var="LOAD_CATALOG", default="", help="seed catalog JSON")
    parser.add_argument(
        "--profiles-file",
        env_var="LOAD_PROFILES_FILE",
        default=str(DEFAULT_LOAD_PROFILES),
        help="load-profiles YAML",
    )
    parser.add_argument("--odoo-db", env_var="ODOO_LOAD_DB", default="odoo", help="database")
    parser.add_argument("--odoo-login", env_var="ODOO_LOAD_LOGIN", default="admin", help="login")
    parser.add_argument(
        "--odoo-password",
        env_var="ODOO_LOAD_PASSWORD",
        default="admin",
        is_secret=True,
        help="password or API key (prefer the env variable)",
    )
    parser.add_argument(
        "--records", env_var="LOAD_RECORDS", default="", help="JSON-lines record stream path"
    )


class _Run:
    """What every user of this process shares, set up by the ``init`` event."""

    profile: LoadProfile
    catalog: LoadCatalog
    db = "odoo"
    login = "admin"
    password = "admin"
    records_path = ""
    records_fd: int | None = None


@events.init.add_listener
def _setup(environment, **_kwargs) -> None:  # type: ignore[no-untyped-def]
    options = environment.parsed_options
    if options is None:
        return
    try:
        # Locust's own --profile (a label for its reports) names the load profile too.
        profile_name = options.profile or DEFAULT_PROFILE
        _Run.profile = load_profiles(Path(options.profiles_file)).get(profile_name)
        if not options.catalog:
            raise SystemExit(
                "load/warehouse.py: expected --catalog PATH (or env LOAD_CATALOG), saw none; "
                "write one with `odoo-resilience seed --catalog PATH`"
            )
        _Run.catalog = read_catalog(Path(options.catalog))
    except SystemExit:
        raise
    except Exception as exc:
        raise SystemExit(f"load/warehouse.py: {exc}") from None
    _Run.db, _Run.login, _Run.password = options.odoo_db, options.odoo_login, options.odoo_password
    _Run.records_path = options.records
    profile = _Run.profile
    for user_class in _USER_CLASSES.values():
        mix = profile.user(user_class.role)
        if mix is not None:
            user_class.weight = mix.weight
            user_class.wait_time = (
                between(mix.think.min_s, mix.think.max_s)
                if mix.pace_s is None
                else constant_pacing(mix.pace_s)
            )
        user_class.network_timeout = profile.request_timeout_s
        user_class.connection_timeout = profile.request_timeout_s
    importer = profile.user(UserRole.ORDER_IMPORTER)
    if importer is not None and importer.batches is not None:
        OrderImporter.wait_time = constant(importer.batches.batch_pause_s)
    owner = os.environ.get("LOAD_OWNER_PID", "")
    if owner.isdigit() and not isinstance(environment.runner, WorkerRunner):
        gevent.spawn(_quit_without_owner, environment, int(owner))


OWNER_CHECK_S = 1.0


def _quit_without_owner(environment, owner: int) -> None:  # type: ignore[no-untyped-def]
    """Quit (stopping the workers too) once the process that started this run is gone."""
    while True:
        gevent.sleep(OWNER_CHECK_S)
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            if environment.runner is not None:
                environment.runner.quit()
            return
        except PermissionError:
            continue


@events.test_start.add_listener
def _open_records(environment, **_kwargs) -> None:  # type: ignore[no-untyped-def]
    # The master of a distributed run makes no requests; each worker writes its own file
    # (forked workers must not share one offset), a stand-alone process writes PATH itself.
    if not _Run.records_path or isinstance(environment.runner, MasterRunner):
        return
    if _Run.records_fd is None:
        path = _Run.records_path
        if isinstance(environment.runner, WorkerRunner):
            path = f"{path}.{os.getpid()}"
        _Run.records_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


@events.quitting.add_listener
def _close_records(**_kwargs) -> None:  # type: ignore[no-untyped-def]
    if _Run.records_fd is not None:
        os.close(_Run.records_fd)
        _Run.records_fd = None


class CallFailed(Exception):
    """A request did not succeed; the user abandons the rest of the flow iteration."""


class _OdooUser(FastHttpUser):
    """One warehouse worker talking JSON-RPC; ``role`` names its profile entry."""

    abstract = True
    role: UserRole
    flow = ""
    uid: int | None = None

    def on_start(self) -> None:
        self._ids = 0

    def ensure_login(self) -> bool:
        if self.uid is None:
            try:
                uid = self.rpc(
                    "login", "common.login", "common", "login", [_Run.db, _Run.login, _Run.password]
                )
            except CallFailed:
                return False
            if isinstance(uid, int) and not isinstance(uid, bool):
                self.uid = uid
        return self.uid is not None

    def execute(
        self,
        model: str,
        method: str,
        args: list[object],
        kwargs: dict[str, object] | None = None,
        *,
        key: str = "",
    ) -> object:
        call_args = [_Run.db, self.uid, _Run.password, model, method, args, kwargs or {}]
        return self.rpc(self.flow, f"{model}.{method}", "object", "execute_kw", call_args, key=key)

    def rpc(
        self, flow: str, call: str, service: str, method: str, args: list[object], *, key: str = ""
    ) -> object:
        """One POST /jsonrpc, recorded; returns ``result`` or raises CallFailed."""
        self._ids += 1
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"service": service, "method": method, "args": args},
                "id": self._ids,
            }
        )
        outcome, error, write, result = "ok", "", "ok", None
        t_start = time.monotonic_ns()
        with self.client.post(
            "/jsonrpc",
            data=body,
            headers={"Content-Type": "application/json"},
            name=call,
            catch_response=True,
        ) as response:
            t_end = time.monotonic_ns()
            transport_error = getattr(response, "error", None)
            if transport_error is not None and response.status_code in (0, None):
                outcome, error = _transport_failure(transport_error)
                # Only a refused connection proves the request never reached the server.
                write = "fail" if isinstance(transport_error, ConnectionRefusedError) else "unknown"
            else:
                outcome, error, write, result = _answer(response.status_code, response.content)
            if outcome == "ok":
                response.success()
            else:
                response.failure(error)
        if _Run.records_fd is not None:
            line = encode_record(
                flow,
                call,
                t_start,
                t_end,
                outcome,
                error=error,
                key=key,
                write=write if key else "",
            )
            os.write(_Run.records_fd, line)
        if outcome != "ok":
            raise CallFailed(error)
        return result


def _transport_failure(exc: BaseException) -> tuple[str, str]:
    name = type(exc).__name__
    if isinstance(exc, TimeoutError | socket.timeout | GeventTimeout):
        return "timeout", name
    return "error", name


def _answer(status: int, content: bytes | None) -> tuple[str, str, str, object]:
    """(outcome, error name, write outcome, result) of an HTTP answer."""
    try:
        payload = json.loads(content or b"")
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            data = error.get("data")
            name = data.get("name") if isinstance(data, dict) else None
            name = name if isinstance(name, str) and name else f"code {error.get('code')}"
            write = "unknown" if name.startswith(INFRA_NAME_PREFIXES) else "fail"
            return "error", name, write, None
        if status == 200 and "jsonrpc" in payload:
            return "ok", "", "ok", payload.get("result")
    write = "unknown" if status in STATUSES_AFTER_FORWARDING else "fail"
    return "error", f"HTTP {status}", write, None


def _key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


class Picker(_OdooUser):
    """Scans barcodes at the bins and validates deliveries of confirmed orders."""

    role = UserRole.PICKER

    @task
    def work(self) -> None:
        if not self.ensure_login():
            return
        tasks = _Run.profile.user(UserRole.PICKER)
        weights = (
            (1, 0)
            if tasks is None or tasks.picker is None
            else (
                tasks.picker.scan_weight,
                tasks.picker.pick_weight,
            )
        )
        try:
            if random.choices((True, False), weights=weights)[0]:
                self.scan()
            else:
                self.pick()
        except CallFailed:
            return

    def scan(self) -> None:
        self.flow = "warehouse_scan"
        catalog = _Run.catalog
        product = random.choice(catalog.products)
        rows = self.execute(
            "product.product",
            "search_read",
            [
                [["barcode", "=", product.barcode]],
                ["id", "display_name", "uom_id", "qty_available", "free_qty", "virtual_available"],
            ],
            {"limit": 1, "context": {"warehouse_id": catalog.warehouse_id}},
        )
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            self.execute(
                "stock.quant",
                "search_read",
                [
                    [
                        ["product_id", "=", rows[0].get("id")],
                        ["location_id", "child_of", catalog.lot_stock_id],
                    ],
                    ["location_id", "lot_id", "quantity", "reserved_quantity"],
                ],
            )

    def pick(self) -> None:
        self.flow = "picking_validate"
        catalog = _Run.catalog
        open_deliveries = self.execute(
            "stock.picking",
            "search_read",
            [
                [
                    ["picking_type_id", "=", catalog.out_type_id],
                    ["state", "=", "assigned"],
                    # Only this catalog's customers: never a delivery someone else (a
                    # probe, another load) is about to validate itself.
                    ["partner_id", "in", list(catalog.customer_ids)],
                ],
                ["id", "move_ids"],
            ],
            {"limit": OPEN_DELIVERIES_SCANNED, "order": "id"},
        )
        if not isinstance(open_deliveries, list) or not open_deliveries:
            return
        # A random one of the oldest few, so concurrent pickers rarely take the same one.
        picking = random.choice(open_deliveries)
        moves = self.execute(
            "stock.move", "read", [picking["move_ids"], ["quantity", "product_uom_qty"]]
        )
        for move in moves if isinstance(moves, list) else []:
            self.execute(
                "stock.move",
                "write",
                [[move["id"]], {"quantity": move["quantity"], "picked": True}],
            )
        picking_id = picking["id"]
        self.execute(
            "stock.picking",
            "button_validate",
            [[picking_id]],
            {"context": {"skip_backorder": True, NO_BACKORDER: [picking_id]}},
        )


class Receiver(_OdooUser):
    """Receives vendor deliveries: create, confirm, set quantities, validate."""

    role = UserRole.RECEIVER
    flow = "receiving"

    @task
    def receive(self) -> None:
        if not self.ensure_login():
            return
        catalog = _Run.catalog
        product = random.choice(catalog.products)
        origin = _key("rcv")
        qty = random.randint(5, 50)
        try:
            picking_id = self.execute(
                "stock.picking",
                "create",
                [
                    {
                        "picking_type_id": catalog.in_type_id,
                        "partner_id": random.choice(catalog.vendor_ids),
                        "location_id": catalog.supplier_location_id,
                        "location_dest_id": catalog.lot_stock_id,
                        "origin": origin,
                        "move_ids": [
                            [
                                0,
                                0,
                                {
                                    "name": f"Receipt {origin}",
                                    "product_id": product.product_id,
                                    "product_uom_qty": qty,
                                    "location_id": catalog.supplier_location_id,
                                    "location_dest_id": catalog.lot_stock_id,
                                },
                            ]
                        ],
                    }
                ],
                key=origin,
            )
            self.execute("stock.picking", "action_confirm", [[picking_id]])
            rows = self.execute("stock.picking", "read", [[picking_id], ["move_ids"]])
            move_ids = rows[0]["move_ids"] if isinstance(rows, list) and rows else []
            self.execute("stock.move", "write", [move_ids, {"quantity": qty, "picked": True}])
            self.execute(
                "stock.picking",
                "button_validate",
                [[picking_id]],
                {"context": {"skip_backorder": True, NO_BACKORDER: [picking_id]}},
            )
        except CallFailed:
            return


class OrderImporter(_OdooUser):
    """A marketplace/EDI feed: a batch of confirmed sale orders, then a pause (wait_time)."""

    role = UserRole.ORDER_IMPORTER
    flow = "order_import"

    @task
    def import_batch(self) -> None:
        if not self.ensure_login():
            return
        mix = _Run.profile.user(UserRole.ORDER_IMPORTER)
        if mix is None or mix.batches is None:
            return
        catalog = _Run.catalog
        for _ in range(mix.batches.orders_per_batch):
            ref = _key("so")
            lines = random.sample(
                catalog.products, min(mix.batches.lines_per_order, len(catalog.products))
            )
            try:
                order_id = self.execute(
                    "sale.order",
                    "create",
                    [
                        {
                            "partner_id": random.choice(catalog.customer_ids),
                            "client_order_ref": ref,
                            "order_line": [
                                [
                                    0,
                                    0,
                                    {
                                        "product_id": p.product_id,
                                        "product_uom_qty": random.randint(1, 3),
                                    },
                                ]
                                for p in lines
                            ],
                        }
                    ],
                    key=ref,
                )
                self.execute("sale.order", "action_confirm", [[order_id]])
            except CallFailed:
                pass
            time.sleep(random.uniform(mix.think.min_s, mix.think.max_s))


class Reporter(_OdooUser):
    """Back office: stock on hand and reserved per product and location."""

    role = UserRole.REPORTER
    flow = "reporting"

    @task
    def stock_report(self) -> None:
        if not self.ensure_login():
            return
        try:
            self.execute(
                "stock.quant",
                "read_group",
                [
                    [["location_id.usage", "=", "internal"]],
                    ["quantity:sum", "reserved_quantity:sum"],
                    ["product_id", "location_id"],
                ],
                {"lazy": False},
            )
        except CallFailed:
            return


_USER_CLASSES: dict[UserRole, type[_OdooUser]] = {
    UserRole.PICKER: Picker,
    UserRole.RECEIVER: Receiver,
    UserRole.ORDER_IMPORTER: OrderImporter,
    UserRole.REPORTER: Reporter,
}


class WarehouseShape(LoadTestShape):
    """The profile's stages, with only the roles the profile lists."""

    def tick(self):  # type: ignore[no-untyped-def]
        profile = _Run.profile
        stage = profile.stage_at(self.get_run_time())
        if stage is None:
            return None
        roles = [_USER_CLASSES[mix.role] for mix in profile.users]
        return stage.users, stage.spawn_rate, roles
