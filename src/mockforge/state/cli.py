"""``mockforge state plan api.yaml``: print the resources inferred from a spec, and why, for every
path. Imports only click here; the loader and inference load inside the command."""

from __future__ import annotations

import sys

import click

__all__ = ["state"]


@click.group()
def state() -> None:
    """Stateful mocks: what the spec's resources are (docs/STATE.md)."""


@state.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
def plan(specs: tuple[str, ...]) -> None:
    """Print each inferred resource (collection, item, id field, list shape) and why, and why
    every other path is not one."""
    from mockforge.errors import MockforgeError
    from mockforge.openapi.loader import load_specs
    from mockforge.state.inference import infer

    try:
        model = load_specs(list(specs))
    except MockforgeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    result = infer(model)
    for line in result.lines():
        click.echo(line)
    click.echo(f"{len(result.resources)} resource(s)")
