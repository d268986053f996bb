"""Command line: `run.py [serve]` (--config, --port, --workers, --metrics-port), `create-admin`,
`migrate`, `clients create|list|delete` and `keys list|rotate|revoke KID`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.core.config import Config, load_config
from server.core.config_values import ConfigError

if TYPE_CHECKING:
    from server.runtime.migrate_command import Outcome

DEFAULT_CONFIG = Path(__file__).with_name("config.yaml")
COMMANDS = ("serve", "create-admin", "migrate", "clients", "keys")


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="YAML config file")


def _clients_parser() -> argparse.ArgumentParser:
    """`clients ACTION`: each action takes --config itself, so it may come anywhere."""
    parser = argparse.ArgumentParser(prog="run.py clients",
                                     description="service clients (introspection, revocation)")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="register a client; prints its id and secret once")
    create.add_argument("--name", required=True, help="what the client is (e.g. billing)")
    actions.add_parser("list", help="every client: id, created, name")
    delete = actions.add_parser("delete", help="delete a client: its secret stops working")
    delete.add_argument("id", help="the client id")
    for action in (create, actions.choices["list"], delete):
        _add_config(action)
    return parser


def _parser(command: str) -> argparse.ArgumentParser:
    if command == "clients":
        return _clients_parser()
    parser = argparse.ArgumentParser(prog=f"run.py {command}")
    _add_config(parser)
    if command == "serve":
        parser.add_argument("--port", type=int, help="overrides server.port")
        parser.add_argument("--workers", type=int, help="overrides server.workers (0 = per core)")
        parser.add_argument("--metrics-port", type=int,
                            help="overrides metrics.port (0 = no metrics listener)")
    elif command == "create-admin":
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", help="the new admin's password (required unless "
                                               "--promote)")
        parser.add_argument("--first-name", help="the new admin's first name (default Admin)")
        parser.add_argument("--last-name", help="the new admin's last name (default User)")
        parser.add_argument("--promote", action="store_true",
                            help="make the existing, verified, active account with this email "
                                 "an admin; it keeps its own password and names")
    elif command == "keys":
        parser.add_argument("action", choices=("list", "rotate", "revoke"),
                            help="list the signing keys; publish a new one (it signs after "
                                 "jwt.key_publish_ahead); revoke one at once")
        parser.add_argument("kid", nargs="?", help="the key to revoke (see `keys list`)")
    return parser


def _check_admin_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors (exit 2): a new admin needs a password; a promotion takes none, since a
    password or name given with it would otherwise be silently ignored."""
    if args.promote:
        if any(v is not None for v in (args.password, args.first_name, args.last_name)):
            parser.error("--promote keeps the account's own password and names: drop "
                         "--password, --first-name and --last-name")
    elif args.password is None:
        parser.error("the following arguments are required: --password (or --promote)")


def _config_loader(args: argparse.Namespace) -> tuple[Config, Callable[[], Config]]:
    """Load the config; flags override both the file and APP__ variables. Flags go through the
    same validation as the file, so `--port 99999` fails naming server.port."""
    flags = {
        "APP__SERVER__PORT": getattr(args, "port", None),
        "APP__SERVER__WORKERS": getattr(args, "workers", None),
        "APP__METRICS__PORT": getattr(args, "metrics_port", None),
    }

    def load() -> Config:
        environ = {**os.environ, **{k: str(v) for k, v in flags.items() if v is not None}}
        return load_config(args.config, environ)

    return load(), load


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def _serve(args: argparse.Namespace) -> int:
    from server.runtime.embedded_db import EmbeddedDbError
    from server.runtime.listeners import CannotListen
    from server.runtime.serve import serve

    config, reload_config = _config_loader(args)
    try:
        return serve(config, reload_config)
    except EmbeddedDbError as exc:
        return _fail(f"database error: {exc}")
    except CannotListen as exc:  # the API port or the metrics port
        return _fail(f"cannot listen on {exc.address}: {exc.strerror or exc}")
    except OSError as exc:
        where = f"{config.server.host}:{config.server.port}"
        return _fail(f"cannot listen on {where}: {exc.strerror or exc}")


def _create_admin(args: argparse.Namespace) -> int:
    from server.core.errors import AppError
    from server.runtime.admin_command import create_admin_command
    from server.runtime.around import embedded_database
    from server.runtime.embedded_db import EmbeddedDbError

    config, _ = _config_loader(args)
    try:
        with embedded_database(config) as live:
            done = asyncio.run(create_admin_command(
                live, email=args.email, password=args.password, first_name=args.first_name,
                last_name=args.last_name, promote=args.promote))
    except AppError as exc:
        return _fail(exc.text)
    except EmbeddedDbError as exc:
        return _fail(f"database error: {exc}")
    print(done)
    return 0


def _outcome_command(args: argparse.Namespace,
                     work: Callable[[Any], Coroutine[Any, Any, Outcome]]) -> int:
    """Run `work(live database)` (an Outcome: lines to print, ok) once, as migrate and keys do."""
    from pymongo.errors import PyMongoError

    from server.runtime.around import embedded_database
    from server.runtime.embedded_db import EmbeddedDbError

    config, _ = _config_loader(args)
    try:
        with embedded_database(config) as live:
            outcome = asyncio.run(work(live))
    except EmbeddedDbError as exc:
        return _fail(f"database error: {exc}")
    except PyMongoError as exc:  # its message may name hosts or credentials: the class only
        return _fail(f"database error: {type(exc).__name__}")
    print("\n".join(outcome.lines))
    return 0 if outcome.ok else 1


def _migrate(args: argparse.Namespace) -> int:
    from server.runtime.migrate_command import migrate_command

    return _outcome_command(args, migrate_command)


def _clients(args: argparse.Namespace) -> int:
    from server.runtime.around import embedded_database
    from server.runtime.clients_command import create_command, delete_command, list_command
    from server.runtime.embedded_db import EmbeddedDbError

    config, _ = _config_loader(args)
    try:
        with embedded_database(config) as live:
            if args.action == "create":
                lines = asyncio.run(create_command(live, args.name))
            elif args.action == "list":
                lines = asyncio.run(list_command(live))
            elif asyncio.run(delete_command(live, args.id)):
                lines = [f"deleted client {args.id}"]
            else:
                return _fail(f"no client {args.id}: nothing was deleted")
    except ValueError as exc:  # a name that breaks the rules
        return _fail(str(exc))
    except EmbeddedDbError as exc:
        return _fail(f"database error: {exc}")
    for line in lines:  # none for an empty list: nothing printed, not a blank line
        print(line)
    return 0


def _keys(args: argparse.Namespace) -> int:
    from server.runtime.keys_command import keys_command

    return _outcome_command(args, lambda live: keys_command(live, args.action, args.kid))


def _take_kid(args_in: list[str]) -> str | None:
    """Remove and return the word after `revoke`: a kid is base64url, so it may begin with
    "-", which argparse would read as an option."""
    if "revoke" not in args_in:
        return None
    at = args_in.index("revoke") + 1
    if at < len(args_in) and args_in[at] not in ("-h", "--help", "--config"):
        return args_in.pop(at)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    command = "serve"
    if args_in and args_in[0] in COMMANDS:
        command = args_in.pop(0)
    elif args_in and not args_in[0].startswith("-"):
        return _fail(f"unknown command {args_in[0]!r}: expected one of {', '.join(COMMANDS)}")
    parser = _parser(command)
    kid = _take_kid(args_in) if command == "keys" else None
    args = parser.parse_args(args_in)
    if kid is not None:
        args.kid = kid
    if command == "create-admin":
        _check_admin_flags(parser, args)
    if command == "keys" and (args.action == "revoke") != (args.kid is not None):
        parser.error("revoke takes the KID of the key to revoke; list and rotate take none")
    run = {"serve": _serve, "create-admin": _create_admin, "migrate": _migrate,
           "clients": _clients, "keys": _keys}[command]
    try:
        return run(args)
    except ConfigError as exc:
        return _fail(f"config error: {exc}")


if __name__ == "__main__":
    sys.exit(main())
