"""The ``bakec`` command line: a thin layer over the library.

Imports are lazy so ``bakec build --print`` pays only for what it uses.
Every :class:`~bakec.errors.BakecError` is printed as buildx prints errors and
turned into its exit code; no traceback ever reaches the user.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn, Sequence

from bakec._version import __version__
from bakec.cli.options import add_fleet_flags, add_lock_flags
from bakec.errors import EXIT_USAGE, BakecError, UsageError, render

_STATE_DIR_HELP = (
    "bakec's state directory (default: $BAKEC_STATE_DIR, $XDG_STATE_HOME/bakec, /var/lib/bakec for root)"
)
_PROGRESS_HELP = (
    "how to show progress: auto (tty on a terminal, else plain), plain (one line per event), "
    "tty (live view), quiet (errors only), rawjson (BuildKit's SolveStatus JSON, one object per line), "
    "bakec-json (bakec's own events), none; default: $BUILDKIT_PROGRESS, else auto"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 itself; keep our format
        raise UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bakec", description="Compile and build docker buildx bake files.")
    parser.add_argument("--version", action="version", version=f"bakec {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show a traceback on internal errors (as BAKEC_DEBUG=1)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    build = sub.add_parser("build", help="build targets (or --print / --list them)")
    _add_definition_flags(build)
    build.add_argument(
        "--print", action="store_true", dest="print_", help="print the options without building"
    )
    build.add_argument("--list", dest="list_", metavar="VALUE", help="list targets or variables")
    build.add_argument("--load", action="store_true", help='shorthand for "--set=*.output=type=docker"')
    build.add_argument("--push", action="store_true", help='shorthand for "--set=*.output=type=registry"')
    build.add_argument("--no-cache", action="store_true", default=None, help="do not use cache when building")
    build.add_argument("--pull", action="store_true", default=None, help="always attempt to pull all images")
    build.add_argument("--sbom", default="", metavar="VALUE", help='shorthand for "--set=*.attest=type=sbom"')
    build.add_argument(
        "--provenance", default="", metavar="VALUE", help='shorthand for "--set=*.attest=type=provenance"'
    )
    build.add_argument(
        "--call",
        default=None,
        metavar="METHOD",
        help="set method for evaluating build (check, outline, targets)",
    )
    build.add_argument("--check", action="store_true", help='shorthand for "--call=check"')
    build.add_argument("--policy", action="append", default=[], metavar="POLICY", help="policy configuration")
    build.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="ENTITLEMENT",
        help="allow build to access specified resources",
    )
    build.add_argument("--metadata-file", metavar="FILE", help="write build result metadata to a file")
    build.add_argument(
        "--progress",
        default=None,  # then $BUILDKIT_PROGRESS, then auto (as buildx)
        choices=["auto", "plain", "tty", "quiet", "rawjson", "bakec-json", "none"],
        metavar="MODE",
        help=_PROGRESS_HELP,
    )
    build.add_argument(
        "--state-dir",
        metavar="DIR",
        help=_STATE_DIR_HELP,
    )
    build.add_argument(
        "--builder",
        metavar="NAME",
        help='builder to use: only "default", bakec\'s embedded containerd, is accepted',
    )
    build.add_argument(
        "--containerd-address",
        metavar="SOCKET",
        help="build on the containerd listening on SOCKET (same machine, overlayfs snapshotter) "
        "instead of starting bakec's embedded one",
    )
    build.add_argument(
        "--max-parallelism",
        type=int,
        default=None,
        metavar="N",
        help="RUN steps run at once (default: cores); file operations and sources run beside them",
    )
    build.add_argument(
        "--keep-going", action="store_true", help="let independent targets finish when one fails"
    )
    _add_fleet_build_flags(build)
    build.add_argument("targets", nargs="*", metavar="TARGET", help="targets or groups to build")

    daemon = sub.add_parser("daemon", help="the embedded containerd: status or stop")
    daemon.add_argument(
        "action", choices=["status", "stop"], help="status: what runs and until when; stop: stop it now"
    )
    daemon.add_argument(
        "--state-dir",
        metavar="DIR",
        help=_STATE_DIR_HELP,
    )

    prune = sub.add_parser("prune", help="remove build cache")
    prune.add_argument("-a", "--all", action="store_true", help="include base images and cache mounts")
    prune.add_argument(
        "--keep-storage", metavar="SIZE", help="amount of disk space to keep for cache (e.g. 512MB)"
    )
    prune.add_argument(
        "-f", "--force", action="store_true", help="do not prompt for confirmation (bakec never does)"
    )
    prune.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="until=DURATION",
        help="only entries unused for longer than DURATION (e.g. 24h)",
    )
    prune.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    prune.add_argument(
        "--state-dir",
        metavar="DIR",
        help=_STATE_DIR_HELP,
    )

    check = sub.add_parser(
        "check", help="validate bake files, Dockerfiles and contexts without building (no daemon)"
    )
    _add_definition_flags(check)
    check.add_argument("--strict", action="store_true", help="fail (exit 1) on warnings too")
    check.add_argument(
        "--format", default="text", choices=["text", "json"], help="output format of the findings"
    )
    check.add_argument("targets", nargs="*", metavar="TARGET", help="targets or groups to check")

    plan = sub.add_parser("plan", help="show the combined build graph of the targets")
    _add_definition_flags(plan)
    plan.add_argument(
        "--format",
        default=None,
        choices=["text", "json", "dot", "html", "github-actions", "gitlab", "tekton"],
        help="output format (default: text; json with --shards; the last three emit a CI pipeline)",
    )
    plan.add_argument(
        "--resolve",
        default=None,
        choices=["offline", "registry"],
        help="pin base images: offline uses references as written, registry asks the registry "
        "(default: offline; registry with --shards, and for an html report of recorded builds)",
    )
    plan.add_argument(
        "--diff",
        metavar="OLD",
        help="compare with an earlier `bakec plan --format json` file, or git:REV (that revision's plan)",
    )
    add_fleet_flags(plan)
    plan.add_argument(
        "--state-dir",
        metavar="DIR",
        help="html: show the last builds' step times and cache hits from this state directory; "
        "--record-costs: read step durations from it "
        "(default: the default state directory, when it has build records)",
    )
    plan.add_argument("targets", nargs="*", metavar="TARGET", help="targets or groups to plan")

    why = sub.add_parser("why", help="explain why steps of a target's latest build ran")
    why.add_argument(
        "--format", default="text", choices=["text", "json"], help="output format of the explanation"
    )
    why.add_argument(
        "--state-dir",
        help="bakec's state directory (default: $BAKEC_STATE_DIR, "
        "$XDG_STATE_HOME/bakec, /var/lib/bakec for root)",
    )
    why.add_argument("target", metavar="TARGET", help="the target whose latest build to explain")

    verify = sub.add_parser(
        "verify", help="rebuild targets without cache and compare the images with the last build"
    )
    _add_definition_flags(verify)
    verify.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="ENTITLEMENT",
        help="allow build to access specified resources",
    )
    verify.add_argument(
        "--progress",
        default=None,
        choices=["auto", "plain", "tty", "quiet", "rawjson", "bakec-json", "none"],
        metavar="MODE",
        help=_PROGRESS_HELP,
    )
    verify.add_argument("--state-dir", metavar="DIR", help=_STATE_DIR_HELP)
    verify.add_argument(
        "--lock", metavar="FILE", help="lockfile whose pins the rebuild uses (default: bakec.lock)"
    )
    verify.add_argument("targets", nargs="*", metavar="TARGET", help="targets or groups to verify")

    lock = sub.add_parser("lock", help="pin base images, git refs and ADD URLs in bakec.lock")
    _add_definition_flags(lock)
    lock.add_argument("targets", nargs="*", metavar="TARGET", help="targets or groups to pin")
    add_lock_flags(build, lock)
    add_everyday_commands(sub)
    return parser


def _add_fleet_build_flags(p: argparse.ArgumentParser) -> None:
    """``build --plan FILE --shard ID | --publish``: one job of a fleet plan (``bakec plan --shards N``)."""
    p.add_argument("--plan", dest="fleet_plan", metavar="FILE", help="a fleet plan (bakec plan --shards N)")
    p.add_argument("--shard", dest="fleet_shard", metavar="ID", help="run this shard of the plan")
    p.add_argument(
        "--publish",
        dest="fleet_publish",
        action="store_true",
        help="import every shard's results and write the targets' outputs (runs no step)",
    )


def _add_definition_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-f",
        "--file",
        action="append",
        default=[],
        dest="files",
        metavar="FILE",
        help="build definition file",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        dest="overrides",
        metavar="PATTERN.KEY=VALUE",
        help="override target value",
    )
    p.add_argument(
        "--var", action="append", default=[], dest="vars", metavar="NAME=VALUE", help="set a variable"
    )


def add_everyday_commands(sub) -> None:
    """``version``, ``completion``, ``du`` and ``doctor``."""
    sub.add_parser("version", help="show the versions of bakec, Python, containerd and runc")

    completion = sub.add_parser("completion", help="print a shell completion script")
    completion.add_argument(
        "shell",
        choices=["bash", "zsh", "fish"],
        help="bash or zsh: source <(bakec completion bash); fish: bakec completion fish | source",
    )

    du = sub.add_parser("du", help="show the disk usage of the build cache")
    du.add_argument("--verbose", action="store_true", help="show every record with its step and targets")
    du.add_argument("--state-dir", metavar="DIR", help=_STATE_DIR_HELP)

    doctor = sub.add_parser("doctor", help="check this machine for building, with a fix for each problem")
    doctor.add_argument("--state-dir", metavar="DIR", help=_STATE_DIR_HELP)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bakec`` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    sources: dict[str, bytes] = {}
    debug = bool(os.environ.get("BAKEC_DEBUG"))
    try:
        if args_list[:1] == ["__complete"]:  # hidden: the completion scripts' helper (words may be flags)
            from bakec.cli.completion import run_complete

            return run_complete(args_list[1:], _build_parser())
        args = _build_parser().parse_args(args_list)
        if args.debug:
            debug = True
            os.environ["BAKEC_DEBUG"] = "1"  # subprocesses and library code see it too
        if args.command is None:
            _build_parser().print_help(sys.stderr)
            return EXIT_USAGE
        if args.command == "build":
            from bakec.cli.build import run_build

            return run_build(args, sources)
        if args.command == "daemon":
            from bakec.cli.daemon import run_daemon

            return run_daemon(args, sources)
        if args.command == "prune":
            from bakec.cli.prune import run_prune

            return run_prune(args, sources)
        if args.command == "check":
            from bakec.cli.check import run_check

            return run_check(args, sources)
        if args.command == "plan":
            from bakec.cli.plan import run_plan

            return run_plan(args, sources)
        if args.command == "why":
            from bakec.cli.why import run_why

            return run_why(args, sources)
        if args.command == "version":
            from bakec.cli.version import run_version

            return run_version(args, sources)
        if args.command == "completion":
            from bakec.cli.completion import run_completion

            return run_completion(args, _build_parser())
        if args.command == "du":
            from bakec.cli.du import run_du

            return run_du(args, sources)
        if args.command == "doctor":
            from bakec.cli.doctor import run_doctor

            return run_doctor(args, sources)
        if args.command == "verify":
            from bakec.cli.verify import run_verify

            return run_verify(args, sources)
        if args.command == "lock":
            from bakec.cli.lock import run_lock

            return run_lock(args, sources)
        raise UsageError(f"unknown command {args.command}")
    except BakecError as err:
        sys.stderr.write(render(err, sources))
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("ERROR: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as err:  # a bug in bakec: say so plainly, traceback only on request
        if debug:
            raise
        sys.stderr.write(
            f"ERROR: internal error: {type(err).__name__}: {err} (run with --debug for details)\n"
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
