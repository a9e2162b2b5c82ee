"""Real servers for the delivery tests, started on loopback (127.0.0.1, a free port) by the tests.

- Anki's own sync server: `python -m anki.syncserver` from the `anki` package the tests use.
- An AnkiConnect-compatible server: the PyPI package `anki-connect-server` (headless FastAPI app
  over the official `anki` library; needs Python >= 3.12, so it lives in its own virtual
  environment, by default `~/.cache/aws-anki/anki-connect-server`, or the interpreter named by
  AWS_ANKI_ANKICONNECT_PYTHON). Tests never install it: the push tests skip, saying how to get
  it, when it is not there (or when AWS_ANKI_ANKICONNECT=0). `python tests/servers.py install`
  makes that environment (about 180 MB; `.ci/run` runs it unless AWS_ANKI_ANKICONNECT=0).

anki-connect-server 0.5.0 differs from the AnkiConnect add-on (FooSoft/anki-connect,
plugin/__init__.py) in three ways that matter here, so this file's launcher (run under that
venv: `python servers.py ankiconnect ...`) restores upstream behaviour before serving:
1. `createModel` ignores `isCloze` (a cloze note type comes out as a standard one, one card per
   note): upstream sets the type to cloze.
2. `updateModelTemplates` writes every given template into *every* template of the note type:
   upstream updates each template by its name.
3. No API key: upstream answers every action but `requestPermission` with the error
   "valid api key must be provided" when the configured `apiKey` does not match the request's `key`.
It also declares no dependency on `httpx`, which it imports (installed alongside here).
`--as-published` serves the package untouched (a test checks that push refuses, not corrupts).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ANKICONNECT_SERVER_REQUIREMENTS = ("anki-connect-server==0.5.0", "httpx")
_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aws-anki" / "anki-connect-server"


class Unavailable(Exception):
    """A server cannot be had on this machine (the reason is the message)."""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until something accepts connections on the port; Unavailable if the process dies first.
    No deadline: a slow start on a busy machine is not a reason to skip (or fail) a test."""
    while True:
        if process.poll() is not None:
            raise Unavailable(f"server exited with status {process.returncode}: {_tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)


def _tail(log: Path, lines: int = 8) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class SyncServer:
    """A running `anki.syncserver` with one user."""

    url: str
    user: str
    password: str
    base: Path


@contextlib.contextmanager
def sync_server(base: Path, *, user: str = "test", password: str = "pass") -> Iterator[SyncServer]:
    """Run Anki's own sync server (the anki package's) on loopback until the block ends."""
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(os.environ, SYNC_USER1=f"{user}:{password}", SYNC_BASE=str(base / "data"), SYNC_HOST="127.0.0.1",
               SYNC_PORT=str(port), RUST_LOG="anki=warn")
    log = base / "syncserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "anki.syncserver"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)
        yield SyncServer(f"http://127.0.0.1:{port}/", user, password, base)
    finally:
        _stop(process)


def ankiconnect_python() -> Path:
    """The interpreter that has anki-connect-server; Unavailable (saying how to get one) if none."""
    if os.environ.get("AWS_ANKI_ANKICONNECT") == "0":
        raise Unavailable("AWS_ANKI_ANKICONNECT=0: the AnkiConnect push tests are switched off")
    named = os.environ.get("AWS_ANKI_ANKICONNECT_PYTHON")
    if named:
        python = Path(named)
        if not _has_server(python):
            raise Unavailable(f"AWS_ANKI_ANKICONNECT_PYTHON={named} has no anki-connect-server")
        return python
    python = _CACHE / "bin" / "python"
    if _has_server(python):
        return python
    raise Unavailable(f"anki-connect-server is not installed in {_CACHE}; tests never install it. "
                      "Run `python tests/servers.py install` (about 180 MB, needs Python 3.12+) "
                      "or set AWS_ANKI_ANKICONNECT_PYTHON to a python that has it")


def install_ankiconnect(base_python: str | None = None) -> Path:
    """Create the anki-connect-server environment in the cache (run by hand or by `.ci/run`, never by a test)."""
    python = _CACHE / "bin" / "python"
    if _has_server(python):
        return python
    base = base_python or _python_312()
    subprocess.run([base, "-m", "venv", "--clear", str(_CACHE)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *ANKICONNECT_SERVER_REQUIREMENTS], check=True)
    if not _has_server(python):
        raise Unavailable(f"anki-connect-server did not install into {_CACHE}")
    return python


def _python_312() -> str:
    """An interpreter >= 3.12 that really runs (a pyenv shim on PATH may exist and fail)."""
    candidates = [os.environ.get("AWS_ANKI_PYTHON312"), shutil.which("python3.13"), shutil.which("python3.12")]
    for candidate in filter(None, candidates):
        try:
            probe = subprocess.run([candidate, "-c", "import sys; assert sys.version_info >= (3, 12)"], capture_output=True)
        except OSError:
            continue
        if probe.returncode == 0:
            return candidate
    raise Unavailable("anki-connect-server needs Python 3.12+, and none was found on PATH "
                      "(name one with AWS_ANKI_PYTHON312 or `servers.py install --python PATH`)")


def _has_server(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-c", "import anki_connect_server.api, httpx"], capture_output=True)
    return probe.returncode == 0


@dataclass(frozen=True)
class AnkiConnectServer:
    """A running anki-connect-server over its own collection file."""

    url: str
    collection: Path
    key: str | None


@contextlib.contextmanager
def ankiconnect_server(folder: Path, *, key: str | None = None, as_published: bool = False) -> Iterator[AnkiConnectServer]:
    """Run anki-connect-server (through this file's launcher) on loopback until the block ends."""
    python = ankiconnect_python()
    folder.mkdir(parents=True, exist_ok=True)
    collection = folder / "collection.anki2"
    port = free_port()
    command = [str(python), str(Path(__file__).resolve()), "ankiconnect", "--port", str(port), "--collection", str(collection)]
    if key:
        command += ["--key", key]
    if as_published:
        command.append("--as-published")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANKICONNECT_")}
    log = folder / "ankiconnect.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    try:
        wait_for_port(port, process, log)
        yield AnkiConnectServer(f"http://127.0.0.1:{port}", collection, key)
    finally:
        _stop(process)


# ---------------------------------------------------------------------------------------------
# The launcher: runs under the anki-connect-server venv (Python 3.12), never imported by pytest.
# ---------------------------------------------------------------------------------------------

def _upstream_fixes(key: str | None) -> None:  # pragma: no cover - runs in the server process
    from typing import Any

    from anki.consts import MODEL_CLOZE
    from anki_connect_server import anki_wrapper

    wrapper_class = anki_wrapper.AnkiWrapper

    def create_model(self: Any, model_name: str, in_order_fields: list[str], card_templates: list[dict[str, str]],
                     css: str = "", is_cloze: bool = False) -> Any:
        # upstream: refuse an existing name, set the cloze type, fields, css, templates named "Card N"
        if not in_order_fields:
            raise ValueError("Must provide at least one field for inOrderFields")
        if not card_templates:
            raise ValueError("Must provide at least one card for cardTemplates")
        if model_name in self.col.models.all_names():
            raise ValueError("Model name already exists")
        models = self.col.models
        model = models.new(model_name)
        if is_cloze:
            model["type"] = MODEL_CLOZE
        for name in in_order_fields:
            models.add_field(model, models.new_field(name))
        if css:
            model["css"] = css
        for index, card in enumerate(card_templates, 1):
            template = models.new_template(card.get("Name", f"Card {index}"))
            template["qfmt"] = card["Front"]
            template["afmt"] = card["Back"]
            models.add_template(model, template)
        models.add(model)
        return dict(model)

    def update_model_templates(self: Any, model: dict[str, Any]) -> None:
        notetype = self.col.models.by_name(model["name"])
        if notetype is None:
            raise ValueError(f"model was not found: {model['name']}")
        templates = model.get("templates", {})
        for template in notetype["tmpls"]:
            update = templates.get(template["name"])
            if update:
                if update.get("Front"):
                    template["qfmt"] = update["Front"]
                if update.get("Back"):
                    template["afmt"] = update["Back"]
        self.col.models.update_dict(notetype)

    def request_permission(self: Any) -> Any:
        return {"permission": "granted", "requireApikey": bool(key), "version": 6}

    wrapper_class.create_model = create_model
    wrapper_class.update_model_templates = update_model_templates
    wrapper_class.request_permission = request_permission


def _with_api_key(app: object, key: str) -> object:  # pragma: no cover - runs in the server process
    """Upstream's key rule as an ASGI wrapper: every action but requestPermission needs `key`."""

    async def checked(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)  # type: ignore[operator]
            return
        messages = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        if isinstance(request, dict) and request.get("action") != "requestPermission" and request.get("key") != key:
            reply = json.dumps({"result": None, "error": "valid api key must be provided"}).encode()
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": reply})
            return

        async def replay() -> dict:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        await app(scope, replay, send)  # type: ignore[operator]

    return checked


def _serve_ankiconnect(argv: list[str]) -> None:  # pragma: no cover - runs in the server process
    import argparse

    parser = argparse.ArgumentParser(prog="servers.py ankiconnect")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--key")
    parser.add_argument("--as-published", action="store_true")
    args = parser.parse_args(argv)
    os.environ["ANKICONNECT_COLLECTION_PATH"] = args.collection
    os.environ["ANKICONNECT_BIND"] = "127.0.0.1"
    os.environ["ANKICONNECT_PORT"] = str(args.port)
    if not args.as_published:
        _upstream_fixes(args.key)
    import uvicorn
    from anki_connect_server.api import app

    served = _with_api_key(app, args.key) if args.key and not args.as_published else app
    uvicorn.run(served, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) > 1 and sys.argv[1] == "ankiconnect":
        _serve_ankiconnect(sys.argv[2:])
    elif len(sys.argv) in (2, 4) and sys.argv[1] == "install" and sys.argv[2:3] in ([], ["--python"]):
        try:
            print(install_ankiconnect(sys.argv[3] if len(sys.argv) == 4 else None))
        except (Unavailable, OSError, subprocess.CalledProcessError) as error:
            sys.exit(f"servers.py install: {error}")
    else:
        sys.exit("usage: servers.py ankiconnect --port N --collection PATH [--key KEY] [--as-published]\n"
                 "       servers.py install [--python PYTHON3.12]")
