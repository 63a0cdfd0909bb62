"""``qgen`` click group and the one-line error policy.

Every command is a thin layer over the library.  Errors never show a traceback: a
known problem prints ``Error: <one line>`` and exits with status 1 (2 for usage errors,
click's convention); set ``QGEN_DEBUG=1`` to see the traceback of unexpected ones.
"""

from __future__ import annotations

import os
import sys

import click

from qgen._version import __version__
from qgen.errors import ArgumentError


class QgenGroup(click.Group):
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Like click's, but usage errors are one line too (no usage banner)."""
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.format_message())
            code = 0
        except click.ClickException as e:
            click.echo(f"Error: {' '.join(e.format_message().split())}", err=True)
            code = e.exit_code
        except click.exceptions.Abort as e:
            # click turns a Ctrl-C that lands while it parses arguments into Abort
            interrupted = isinstance(e.__cause__, KeyboardInterrupt)
            click.echo(f"Error: {'interrupted' if interrupted else 'aborted'}", err=True)
            code = 130 if interrupted else 1
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt as e:
            click.echo(f"Error: {str(e) or 'interrupted'}", err=True)
            sys.exit(130)
        except ArgumentError as e:  # the library names its argument; this names the option
            command = self.get_command(ctx, ctx.invoked_subcommand or "")
            flag = next((p.opts[0] for p in getattr(command, "params", ()) if p.name == e.argument), None)
            msg = f"Invalid value for '{flag}': {e.problem}" if flag else str(e)
            click.echo(f"Error: {' '.join(msg.split())}", err=True)
            sys.exit(2 if flag else 1)
        except MemoryError:
            click.echo("Error: out of memory (reduce the number of samples or the chunk size)", err=True)
            sys.exit(1)
        except Exception as e:  # noqa: BLE001 — the CLI's contract is one line, no traceback
            if isinstance(e.__cause__ or e.__context__, KeyboardInterrupt):
                # Ctrl-C inside compiled code (numba, in quimb's DMRG) surfaces as a
                # SystemError caused by the KeyboardInterrupt
                click.echo("Error: interrupted", err=True)
                sys.exit(130)
            if os.environ.get("QGEN_DEBUG"):
                raise
            msg = " ".join(str(e).split()) or type(e).__name__
            click.echo(f"Error: {msg}", err=True)
            sys.exit(1)


@click.group(cls=QgenGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="qgen")
def cli() -> None:
    """qgen: quantum state tomography with generative models.

    simulate → train → sample → evaluate; ``qgen demo`` runs the whole path.
    """


def main() -> None:
    cli.main(prog_name="qgen")


from . import commands  # noqa: E402,F401  (registers the commands)
