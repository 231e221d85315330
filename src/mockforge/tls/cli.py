"""``mockforge ca path|export|issue-client``: the local CA from the shell.

The CA lives in ``core.cache_dir`` of ``--config`` (or of ``./mockforge.yaml``, else
``./.mockforge-cache``), the same folder ``mockforge serve --tls`` uses, so the path printed here
is the certificate that server's clients must trust. ``cryptography`` is imported only inside
the commands.

    mockforge ca path                          # create the CA if needed, print ca.pem's path
    mockforge ca export --format der ca.der    # pem | der | p12 (a Java trust store, no password)
    mockforge ca issue-client alice --out certs/   # certs/alice.pem + certs/alice-key.pem (0600)
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mockforge.errors import MockforgeError


def _cache_dir(config_file: str | None, cache_dir: str | None) -> str:
    if cache_dir:
        return cache_dir
    from mockforge.config import DEFAULT_CONFIG_NAME, load_config

    if config_file is None and not Path(DEFAULT_CONFIG_NAME).is_file():
        config_file = None
    cfg = load_config(config_file)
    return cfg.core.cache_dir


def _ca(config_file: str | None, cache_dir: str | None) -> object:
    from mockforge.tls.ca import LocalCA

    return LocalCA.open(_cache_dir(config_file, cache_dir))


def _fail(exc: MockforgeError) -> None:
    click.echo(f"mockforge: error: {exc}", err=True)
    sys.exit(2)


_config = click.option("--config", "config_file", metavar="FILE", help="Config whose core.cache_dir holds the CA.")
_cache = click.option("--cache-dir", metavar="DIR", help="Use this cache folder instead of the config's.")


@click.group()
def ca() -> None:
    """The local certificate authority that signs the certificates of --tls / tls.auto."""


@ca.command("path")
@_config
@_cache
def path_cmd(config_file: str | None, cache_dir: str | None) -> None:
    """Print the CA certificate's path (PEM), creating the CA on first use."""
    from mockforge.tls.ca import LocalCA

    try:
        authority = _ca(config_file, cache_dir)
    except MockforgeError as exc:
        _fail(exc)
        return
    assert isinstance(authority, LocalCA)
    click.echo(str(authority.cert_path.resolve()))


@ca.command("export")
@click.option("--format", "fmt", type=click.Choice(["pem", "der", "p12"]), default="pem", show_default=True)
@click.argument("out", type=click.Path(dir_okay=False))
@_config
@_cache
def export_cmd(fmt: str, out: str, config_file: str | None, cache_dir: str | None) -> None:
    """Write the CA certificate to OUT (p12: a trust store without a password, for Java)."""
    from mockforge.tls.ca import LocalCA

    try:
        authority = _ca(config_file, cache_dir)
        assert isinstance(authority, LocalCA)
        written = authority.export(fmt, out)
    except MockforgeError as exc:
        _fail(exc)
        return
    except OSError as exc:
        click.echo(f"mockforge: error: cannot write {out}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    click.echo(f"wrote {written}")


@ca.command("issue-client")
@click.argument("name")
@click.option("--out", "out_dir", default=".", show_default=True, metavar="DIR",
              help="Folder for NAME.pem and NAME-key.pem.")
@_config
@_cache
def issue_client_cmd(name: str, out_dir: str, config_file: str | None, cache_dir: str | None) -> None:
    """Write a client certificate (CN=NAME) and its key, signed by the local CA, for mutual TLS."""
    from mockforge.tls.ca import LocalCA

    if not name or "/" in name or name.startswith("."):
        click.echo(f"mockforge: error: {name!r} is not a usable name (no '/', not starting with '.')", err=True)
        sys.exit(2)
    try:
        authority = _ca(config_file, cache_dir)
        assert isinstance(authority, LocalCA)
        cert, key = authority.issue_client(name, out_dir)
    except MockforgeError as exc:
        _fail(exc)
        return
    click.echo(f"wrote {cert}")
    click.echo(f"wrote {key}")
