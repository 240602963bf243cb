"""The ``ecgscope`` command line.

One Typer app; each command group lives in its own module and registers itself here.  Every
error caused by input ends as ``error: <file>: <message>`` on stderr and exit code 2, never a
traceback.
"""

from __future__ import annotations

import warnings

import typer

from ecgscope.errors import ECGScopeError

app = typer.Typer(
    name="ecgscope",
    help="Read, analyze, classify and serve ECGs with foundation models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# command modules register on `app` when imported
from ecgscope.cli import (  # noqa: E402,F401
    batch_commands,
    benchmark_commands,
    data_commands,
    holter_commands,
    inference_commands,
    model_commands,
    record_commands,
    report_commands,
    server_commands,
    signal_commands,
)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ecgscope`` script."""
    warnings.simplefilter("default")
    warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
    try:
        # without standalone mode click returns typer.Exit's code instead of exiting
        rc = app(args=argv, prog_name="ecgscope", standalone_mode=False)
    except ECGScopeError as err:
        typer.echo(f"error: {err}", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        return 1
    except Exception as exc:  # click usage errors come as ClickException subclasses
        if isinstance(exc, _click_exception_types()):
            exc.show()
            return exc.exit_code
        raise
    return rc if isinstance(rc, int) else 0


def _click_exception_types() -> tuple[type, ...]:
    """ClickException of click and of the copy of click that newer Typer releases vendor (``typer._click``):
    a usage error (unknown option, extra argument) is raised from whichever one Typer runs on."""
    import importlib

    found = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            found.append(importlib.import_module(module).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


