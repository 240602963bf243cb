"""``ecgscope serve`` and ``ecgscope users``: run the server, manage its users and tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgscope.cli import app
from ecgscope.cli._output import print_json

users_app = typer.Typer(help="Server users and API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")

DbOption = Annotated[str | None, typer.Option(
    "--db", help="Database: a SQLAlchemy URL (postgresql+psycopg://…) or a SQLite file path "
                 "[env ECGSCOPE_DATABASE_URL; default STATE_DIR/ecgscope.db].")]
StateOption = Annotated[Path | None, typer.Option(
    "--state-dir", help="Where the database and stored files live [env ECGSCOPE_STATE_DIR; default ./var].")]


def _settings(db: str | None, state_dir: Path | None, **extra):
    from ecgscope.server.settings import Settings

    url = None
    if db:
        url = db if "://" in db else f"sqlite:///{Path(db).expanduser().resolve()}"
    return Settings.from_env(database_url=url, state_dir=state_dir, **extra)


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    db: DbOption = None,
    state_dir: StateOption = None,
    seed_examples: Annotated[bool, typer.Option(
        "--seed-examples", help="On an empty database, add a demo user and example records from the data folder.")] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data folder for --seed-examples.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Threads for parsing, analysis and reports.")] = None,
    backend: Annotated[str | None, typer.Option(
        "--backend", help="Where models run: onnx or torch [env ECGSCOPE_ANALYSIS_BACKEND; default onnx]; "
                          "saliency always runs on torch.")] = None,
    processes: Annotated[int | None, typer.Option(
        "--processes", help="Worker processes that run analyses; 0 runs them in the server's threads "
                            "[env ECGSCOPE_ANALYSIS_PROCESSES; default the number of CPUs, at most 8].")] = None,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="Where those workers run: processes (this machine) or ray (--processes actors on a Ray "
                         "cluster) [env ECGSCOPE_ANALYSIS_ENGINE; default processes].")] = None,
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", help="Ray cluster for --engine ray ('auto', 'head:6379'); empty starts one here "
                              "[env ECGSCOPE_RAY_ADDRESS].")] = None,
) -> None:
    """Run the API server and the dashboard."""
    import uvicorn

    from ecgscope.config import resolve_data_dir
    from ecgscope.server import create_app
    from ecgscope.server.auth import bootstrap_admin
    from ecgscope.server.context import ServerContext
    from ecgscope.server.seed import demo_token
    from ecgscope.server.seed import seed_examples as seed

    settings = _settings(db, state_dir, workers=workers, analysis_backend=backend.lower() if backend else None,
                         analysis_processes=processes, analysis_engine=engine.lower() if engine else None,
                         ray_address=ray_address)
    setup = ServerContext(settings)
    setup.start()
    with setup.db.session() as s:
        admin_token = bootstrap_admin(s)
    if admin_token:
        typer.echo(f"created user 'admin'; its API token (shown once, keep it): {admin_token}")
    url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0', '::') else host}:{port}/"
    if seed_examples:
        token = demo_token(setup)
        added = seed(setup, resolve_data_dir(data_dir))
        if added:
            typer.echo(f"added {len(added)} example records for user 'demo'")
        typer.echo(f"dashboard: {url}    demo API token: {token}")
    else:
        typer.echo(f"dashboard: {url}")
    setup.close()
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="New user's name.")],
    role: Annotated[str, typer.Option("--role", help="admin | member | viewer")] = "member",
    team: Annotated[str | None, typer.Option("--team", help="Team (created on first use).")] = None,
    db: DbOption = None,
    state_dir: StateOption = None,
) -> None:
    """Create a user and print its first API token."""
    from ecgscope.server.auth import create_user, issue_token, principal_of
    from ecgscope.server.context import ServerContext

    ctx = ServerContext(_settings(db, state_dir))
    ctx.db.create_all()
    with ctx.db.session() as s:
        user = create_user(s, username, role=role, team=team)
        token = issue_token(s, user, name="cli")
        out = principal_of(user).to_dict()
    ctx.close()
    print_json({"user": out, "token": token})


@users_app.command("token")
def users_token(
    username: Annotated[str, typer.Argument(help="Existing user.")],
    db: DbOption = None,
    state_dir: StateOption = None,
) -> None:
    """Issue another API token for a user."""
    from sqlalchemy import select

    from ecgscope.errors import MissingInputError
    from ecgscope.server.auth import issue_token
    from ecgscope.server.context import ServerContext
    from ecgscope.server.db import User

    ctx = ServerContext(_settings(db, state_dir))
    ctx.db.create_all()
    with ctx.db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise MissingInputError(f"no user {username!r}", source="users")
        token = issue_token(s, user, name="cli")
    ctx.close()
    print_json({"user": username, "token": token})


@users_app.command("list")
def users_list(db: DbOption = None, state_dir: StateOption = None) -> None:
    """The server's users."""
    from sqlalchemy import select

    from ecgscope.server.auth import principal_of
    from ecgscope.server.context import ServerContext
    from ecgscope.server.db import User

    ctx = ServerContext(_settings(db, state_dir))
    ctx.db.create_all()
    with ctx.db.session() as s:
        users = [principal_of(u).to_dict() for u in s.scalars(select(User).order_by(User.id))]
    ctx.close()
    print_json(users)
