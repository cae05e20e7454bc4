"""A tiny shop API for the demo: signup → login → profile and orders (bearer token).

`profile` and `orders` answer 503 the FIRST time each is called in this process's life, then work,
so the demo's first run fails on them and a resume finishes it.

    python examples/demo_api.py [--port 0] [--fail-first profile,orders]

Prints `listening on http://127.0.0.1:PORT` once it accepts requests. Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import sys
import threading
from collections import Counter
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ShopState:
    """Users, tokens and how often each endpoint was called; shared by the handler threads."""

    def __init__(self, fail_first: set[str]) -> None:
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.users: dict[str, dict[str, str]] = {}  # email -> user
        self.tokens: dict[str, str] = {}  # token -> email
        self.calls: Counter[str] = Counter()

    def first_call_fails(self, endpoint: str) -> bool:
        with self.lock:
            self.calls[endpoint] += 1
            return endpoint in self.fail_first and self.calls[endpoint] == 1


class ShopHandler(BaseHTTPRequestHandler):
    server: ShopServer

    def do_GET(self) -> None:
        routes = {"/health": self.health, "/profile": self.profile, "/orders": self.orders}
        self.dispatch(routes)

    def do_POST(self) -> None:
        self.dispatch({"/signup": self.signup, "/login": self.login})

    def dispatch(self, routes: dict[str, Any]) -> None:
        route = routes.get(self.path.split("?", 1)[0])
        if route is None:
            self.reply(HTTPStatus.NOT_FOUND, {"error": f"no route {self.command} {self.path}"})
            return
        try:
            route()
        except ValueError as exc:
            self.reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

    # --- endpoints ---------------------------------------------------------------------------------

    def health(self) -> None:
        self.reply(HTTPStatus.OK, {"ok": True})

    def signup(self) -> None:
        body = self.json_body("name", "email", "password")
        state = self.server.state
        with state.lock:
            user = state.users.setdefault(
                body["email"],
                {"id": f"u-{len(state.users) + 1}", "name": body["name"], "email": body["email"]}
                | {"password": body["password"]},
            )
        self.reply(HTTPStatus.CREATED, {"user_id": user["id"], "email": user["email"]})

    def login(self) -> None:
        body = self.json_body("email", "password")
        state = self.server.state
        with state.lock:
            user = state.users.get(body["email"])
            if user is None or user["password"] != body["password"]:
                self.reply(HTTPStatus.UNAUTHORIZED, {"error": "wrong email or password"})
                return
            token = secrets.token_hex(16)
            state.tokens[token] = user["email"]
        self.reply(HTTPStatus.OK, {"token": token, "user_id": user["id"]})

    def profile(self) -> None:
        user = self.authorized("profile")
        if user is not None:
            self.reply(HTTPStatus.OK, {"id": user["id"], "name": user["name"], "email": user["email"]})

    def orders(self) -> None:
        user = self.authorized("orders")
        if user is not None:
            items = [{"id": "o-1", "total": 42.5}, {"id": "o-2", "total": 7.0}]
            self.reply(HTTPStatus.OK, {"user_id": user["id"], "orders": items})

    # --- helpers -----------------------------------------------------------------------------------

    def authorized(self, endpoint: str) -> dict[str, str] | None:
        """The caller's user; None after answering 401 (bad token) or 503 (first call, on purpose)."""
        state = self.server.state
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        with state.lock:
            email = state.tokens.get(token) if scheme.lower() == "bearer" else None
            user = state.users.get(email) if email else None
        if user is None:
            self.reply(HTTPStatus.UNAUTHORIZED, {"error": "missing or unknown bearer token"})
            return None
        if state.first_call_fails(endpoint):
            self.reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "warming up"})
            return None
        return user

    def json_body(self, *required: str) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"body is not JSON: {exc}") from exc
        missing = [name for name in required if not isinstance(body.get(name), str) or not body[name]]
        if missing:
            raise ValueError(f"missing fields: {', '.join(missing)}")
        return {name: body[name] for name in required}

    def reply(self, status: HTTPStatus, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"demo-api: {format % args}\n")


class ShopServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: ShopState) -> None:
        super().__init__(address, ShopHandler)
        self.state = state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--fail-first",
        default="profile,orders",
        help="endpoints whose first call answers 503 (comma-separated; empty for none)",
    )
    args = parser.parse_args(argv)
    state = ShopState({name for name in args.fail_first.split(",") if name})
    with ShopServer((args.host, args.port), state) as server:
        print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
