"""The `intake` command line: tokens, resumable uploads with progress, session look-ups.

Start-up is on the clock (≤ 150 ms from exec to the first request, see docs/benchmarks.md):
the first requests are blocking calls over http.client (a command's look-up, an upload's
sessions), made before asyncio, httpx, rich and the upload machinery are imported; PyJWT
loads only to mint a token. tests/unit/client/test_startup.py holds the line.
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intake_client import tokens
from intake_client.digests import ALGORITHMS, DEFAULT_ALGORITHM
from intake_client.errors import GatewayUnreachableError, IntakeApiError, IntakeError
from intake_client.state import DEFAULT_STATE_FILE

if TYPE_CHECKING:
    from collections.abc import Callable

    from intake_client.api import IntakeApi
    from intake_client.results import FileResult, UploadOptions
    from intake_client.sessions import Prepared
    from intake_client.state import StateFile

# The gateway `make up` starts; kept here too so parsing needs no HTTP module.
DEFAULT_URL = "http://127.0.0.1:8000"


class UsageError(IntakeError):
    """The command line cannot be carried out as given."""


def main(argv: list[str] | None = None) -> None:
    """Runs one command and exits with its status. As the `intake` program (no `argv`), the
    exit skips the interpreter's teardown once output is flushed and exit handlers have run:
    after an upload that teardown alone took 0.2-0.5 s of the command's wall time, measured
    (docs/decisions/0005), and there is nothing left for it to do."""
    code = _run(argv)
    if argv is not None:
        sys.exit(code)
    _exit_now(code)


def _exit_now(code: int) -> None:
    import atexit  # noqa: PLC0415 - only on the way out

    atexit._run_exitfuncs()  # noqa: SLF001 - what the teardown would run first
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said there
            code = code or 1
    os._exit(code)


def _run(argv: list[str] | None) -> int:
    _skip_httpx_command_line()
    args = _parser().parse_args(argv)
    try:
        code = args.run(args)
    except IntakeApiError as error:
        print(f"error: {error.code} ({error.status}): {error.detail}", file=sys.stderr)
        code = 1
    except GatewayUnreachableError as error:
        print(f"error: cannot reach the gateway at {_url(args)}: {error}", file=sys.stderr)
        code = 1
    except (IntakeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        code = 1
    except Exception as error:
        if not _is_http_error(error):
            raise
        print(f"error: cannot reach the gateway at {_url(args)}: {error!r}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume", file=sys.stderr)
        code = 130
    return int(code)


def _skip_httpx_command_line() -> None:
    """httpx imports its own command line (click, rich, pygments: ~0.3 s) whenever click is
    installed; `intake` never runs it, so that import is made to fail as if click were absent,
    which httpx handles (https://github.com/encode/httpx/blob/0.28.1/httpx/__init__.py)."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _is_http_error(error: BaseException) -> bool:
    """An httpx error, told without importing httpx (none can occur before it is imported)."""
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(error, httpx.HTTPError)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS lets the options stand before or after the subcommand without clobbering.
    common.add_argument("--url", default=argparse.SUPPRESS, help="gateway URL (INTAKE_URL)")
    common.add_argument("--token", default=argparse.SUPPRESS, help="bearer JWT (INTAKE_TOKEN)")
    parser = argparse.ArgumentParser(prog="intake", parents=[common], description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    token = commands.add_parser("token", parents=[common], help="mint a development JWT")
    token.add_argument("--tenant", required=True)
    token.add_argument("--brand", action="append", required=True, dest="brands")
    token.add_argument("--permission", action="append", dest="permissions")
    token.add_argument("--user", default=None)
    token.add_argument("--secret", default=None, help="HS256 secret (INTAKE_JWT_SECRET)")
    token.add_argument("--ttl", type=int, default=24 * 3600, help="lifetime in seconds")
    token.set_defaults(run=_token)

    upload = commands.add_parser("upload", parents=[common], help="upload files, resumably")
    upload.add_argument("files", nargs="+", type=Path, metavar="FILE")
    upload.add_argument("--brand", default=None, help="default: the token's only brand")
    upload.add_argument("--parallel", type=_positive, default=4, help="parts in flight")
    upload.add_argument("--title", default=None)
    state_help = f"resume state (INTAKE_STATE_FILE, default {DEFAULT_STATE_FILE})"
    upload.add_argument("--state-file", type=Path, default=None, help=state_help)
    upload.add_argument("--limit-rate", type=_rate, default=None,
                        help="bandwidth cap in bytes/s, e.g. 500K or 20M")  # fmt: skip
    upload.add_argument(
        "--checksum-algorithm",
        choices=ALGORITHMS,
        default=DEFAULT_ALGORITHM,
        help="each part's checksum, which S3 verifies on arrival (default %(default)s)",
    )
    upload.add_argument(
        "--no-checksums",
        action="store_true",
        help="declare no checksum per part (S3 then cannot refuse damaged parts)",
    )
    upload.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    upload.add_argument("--quiet", action="store_true", help="no progress bars")
    upload.set_defaults(run=_upload)

    for name, help_text, call in (
        ("status", "show an upload session", "session_json"),
        ("cancel", "cancel an upload session", "cancel"),
        ("events", "show a session's events, as the audit service recorded them", "events"),
    ):
        command = commands.add_parser(name, parents=[common], help=help_text)
        command.add_argument("session_id", metavar="ID")
        command.set_defaults(run=_lookup(call))
    return parser


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def _rate(value: str) -> float:
    number, unit = value[:-1], value[-1].upper()
    if unit not in _UNITS:
        number, unit = value, ""
    try:
        rate = float(number) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a rate: {value!r}") from None
    if rate <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return rate


def _url(args: argparse.Namespace) -> str:
    return str(getattr(args, "url", None) or os.environ.get("INTAKE_URL") or DEFAULT_URL)


def _token_of(args: argparse.Namespace) -> str:
    token = getattr(args, "token", None) or os.environ.get("INTAKE_TOKEN")
    if not token:
        raise UsageError("no token: pass --token or set INTAKE_TOKEN (see `intake token`)")
    return str(token)


def _token(args: argparse.Namespace) -> int:
    print(tokens.mint(args.tenant, args.brands, args.permissions, user_id=args.user,
                      secret=args.secret, ttl_s=args.ttl))  # fmt: skip
    return 0


def _lookup(method: str) -> "Callable[[argparse.Namespace], int]":
    """A command that calls one IntakeApi `method` with the session id and prints its JSON."""

    def run(args: argparse.Namespace) -> int:
        from intake_client.api import IntakeApi  # noqa: PLC0415 - see the module docstring
        from intake_client.retry import RetryPolicy  # noqa: PLC0415

        # A person is waiting: fail in seconds rather than ride out a long outage.
        api = IntakeApi(_url(args), _token_of(args), retry=RetryPolicy(attempts=3))
        try:
            answer: dict[str, Any] = getattr(api, method)(args.session_id).now()
        finally:
            api.close()
        print(json.dumps(answer, indent=2))
        return 0

    return run


def _upload(args: argparse.Namespace) -> int:
    from intake_client.api import IntakeApi  # noqa: PLC0415 - see the module docstring
    from intake_client.render import UploadBars, summary_line  # noqa: PLC0415
    from intake_client.results import UploadOptions  # noqa: PLC0415
    from intake_client.sessions import Sessions  # noqa: PLC0415
    from intake_client.state import StateFile  # noqa: PLC0415

    token = _token_of(args)
    brand = args.brand or _only_brand(token)
    state_path = args.state_file or os.environ.get("INTAKE_STATE_FILE")
    state = StateFile(Path(state_path) if state_path else None)
    api = IntakeApi(_url(args), token)
    bars = UploadBars(args.files, enabled=not args.quiet)
    options = UploadOptions(
        brand,
        args.parallel,
        args.title,
        on_file=bars.update,
        limit_rate=args.limit_rate,
        checksum_algorithm=None if args.no_checksums else args.checksum_algorithm,
    )
    try:
        with bars:
            # Sessions first, blocking: they need only the gateway, so asyncio and the rest
            # of the transfer machinery load after the first request has gone out, on a
            # thread, while the gateway answers it and signs the first parts.
            _load_transfer_once_sent(api)
            sessions = Sessions(api, state)
            prepared = sessions.prepare(args.files, options)
            sessions.presign(prepared, args.parallel)
            results = _send(api, state, prepared, options)
    finally:
        api.close()
    if args.json:
        print(json.dumps([result.to_json() for result in results], indent=2))
    else:
        for result in results:
            print(summary_line(result))
    return 0 if all(result.status == "completed" for result in results) else 1


def _load_transfer_once_sent(api: "IntakeApi") -> None:
    """Imports asyncio and the transfer machinery on a thread as soon as the first request
    has been written: the imports then run while this thread waits on the gateway, not after.
    A failed import here changes nothing: `_send` imports the same and meets the same error.
    """
    import threading  # noqa: PLC0415 - loaded by http.client's neighbours already; cheap

    def load() -> None:
        api.request_sent.wait()
        try:
            import asyncio  # noqa: F401, PLC0415

            import intake_client.manager  # noqa: F401, PLC0415
        except Exception:  # noqa: S110 - reported by _send's own import
            pass

    threading.Thread(target=load, daemon=True, name="intake-load").start()


def _send(
    api: "IntakeApi", state: "StateFile", prepared: "Prepared", options: "UploadOptions"
) -> "list[FileResult]":
    import asyncio  # noqa: PLC0415 - see the module docstring

    from intake_client.manager import UploadManager  # noqa: PLC0415

    async def send() -> "list[FileResult]":
        async with UploadManager(api, state=state) as manager:
            return await manager.send(prepared, options)

    return asyncio.run(send())


def _only_brand(token: str) -> str:
    brands = tokens.unverified_claims(token).get("brand_ids") or []
    if isinstance(brands, list) and len(brands) == 1:
        return str(brands[0])
    raise UsageError("pass --brand: the token does not name exactly one brand")


if __name__ == "__main__":
    main()
