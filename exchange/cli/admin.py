"""Administration commands: init, db, users, orgs, tokens, demo, reconcile."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import click

from exchange.cli.base import cli, domain_errors_exit, fail
from exchange.cli.runtime import cli_context, ensure_instance_secrets, load_settings


@cli.command("init")
def init_command() -> None:
    """Create the instance folder, its secrets (if missing) and the database schema."""
    from exchange.models.database import upgrade

    instance = Path(os.environ.get("EXCHANGE_INSTANCE", "instance")).resolve()
    wrote = ensure_instance_secrets(instance)
    settings = load_settings()
    upgrade(settings.database_url)
    click.echo(f"instance: {instance}" + (" (new secrets written to exchange.env)" if wrote else ""))


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""
    from exchange.models.database import upgrade

    upgrade(load_settings().database_url)
    click.echo("database is at the latest schema")


@cli.group("users")
def users_group() -> None:
    """User accounts."""


@users_group.command("add")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["applicant", "supplier", "bureau", "admin"]))
@click.option("--org", "org_name", required=True, help="Organisation name (created if new).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--org-admin", is_flag=True, help="May invite and disable users of the organisation.")
@domain_errors_exit
def users_add(email: str, role: str, org_name: str, password_stdin: bool, org_admin: bool) -> None:
    """Add a user; the password comes from stdin (never from an argument, which `ps` would show).

    Common and short passwords are refused.
    """
    from exchange.services import accounts

    if not password_stdin:
        fail("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    with cli_context() as ctx:
        user = accounts.add_user(ctx, email, role, org_name, password, org_admin=org_admin)
        click.echo(f"added {user.email} ({role}{', org admin' if org_admin else ''}) to {org_name}")


@users_group.command("disable")
@click.option("--email", required=True)
@domain_errors_exit
def users_disable(email: str) -> None:
    """Disable a user: their sessions end and their API tokens stop working at once."""
    from exchange.services import accounts

    with cli_context() as ctx:
        user = accounts.disable_user(ctx, email)
        click.echo(f"disabled {user.email}")


@users_group.command("reset-2fa")
@click.option("--email", required=True)
@domain_errors_exit
def users_reset_2fa(email: str) -> None:
    """Remove a user's two-factor enrolment and recovery codes (lost device); their sessions end."""
    from exchange.services import accounts, totp

    with cli_context() as ctx:
        user = accounts.user_by_email(ctx, email)
        totp.reset(ctx, user)
        click.echo(f"two-factor sign-in reset for {user.email}; they enrol again at the next sign-in")


@users_group.command("org-admin")
@click.option("--email", required=True)
@click.option("--off", is_flag=True, help="Take the right away.")
@domain_errors_exit
def users_org_admin(email: str, off: bool) -> None:
    """Let a user invite, list and disable users of their own organisation."""
    from exchange.services import accounts

    with cli_context() as ctx:
        user = accounts.set_org_admin(ctx, email, not off)
        click.echo(f"{user.email}: org admin {'off' if off else 'on'}")


@cli.group("orgs")
def orgs_group() -> None:
    """Organisations."""


@orgs_group.command("set-key")
@click.argument("org")
@click.argument("age_recipient")
@domain_errors_exit
def orgs_set_key(org: str, age_recipient: str) -> None:
    """Set ORG's age X25519 public key (age1...), to which its bundles are encrypted."""
    from exchange.services import accounts

    with cli_context() as ctx:
        accounts.set_org_key(ctx, org, age_recipient)
        click.echo(f"{org}: bundles will be encrypted to {age_recipient.strip()}")


@orgs_group.command("require-totp")
@click.argument("org")
@click.option("--off", is_flag=True, help="Stop requiring it.")
@domain_errors_exit
def orgs_require_totp(org: str, off: bool) -> None:
    """Require ORG's users to sign in with a TOTP code (they enrol on their next visit)."""
    from exchange.services import accounts

    with cli_context() as ctx:
        accounts.set_require_totp(ctx, org, not off)
        click.echo(f"{org}: two-factor sign-in {'optional' if off else 'required'}")


@cli.group("tokens")
def tokens_group() -> None:
    """API tokens."""


@tokens_group.command("create")
@click.option("--email", required=True)
@domain_errors_exit
def tokens_create(email: str) -> None:
    """Print a new API bearer token for the user (shown once)."""
    from exchange.services import accounts

    with cli_context() as ctx:
        token = accounts.create_token(ctx, email)
    click.echo(token)


@tokens_group.command("list")
@click.option("--email", required=True)
@domain_errors_exit
def tokens_list(email: str) -> None:
    """List a user's tokens (id, prefix, dates, state); tokens themselves are never stored."""
    from exchange.services import accounts

    with cli_context() as ctx:
        user = accounts.user_by_email(ctx, email)
        for t in accounts.list_tokens(ctx, user.id):
            used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
            state = "revoked" if t.revoked else "active"
            created = t.created_at.isoformat(timespec="seconds")
            click.echo(f"{t.id}\t{t.prefix}\tcreated {created}\tused {used}\t{state}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@domain_errors_exit
def tokens_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID (from `tokens list`); it stops working on the next request."""
    from exchange.services import accounts

    with cli_context() as ctx:
        accounts.revoke_token(ctx, token_id)
        click.echo(f"revoked token {token_id}")


DEMO = (
    ("applicant@demo.test", "applicant", "Demo Magnets Applicant GmbH"),
    ("supplier@demo.test", "supplier", "Demo Export Supplier Co."),
    ("bureau@demo.test", "bureau", "Demo Licensing Bureau"),
)


@cli.command("demo")
@domain_errors_exit
def demo_command() -> None:
    """Seed demo organisations, users and age keys (once); print the accounts."""
    from exchange.domain.bundles.sealing import new_identity
    from exchange.services import accounts

    with cli_context() as ctx:
        instance = ctx.settings.instance_path
        accounts_file = instance / "demo-accounts.txt"
        if accounts.org_by_name(ctx, DEMO[0][2]) is not None:
            click.echo(f"demo accounts exist; their passwords are in {accounts_file}")
            return
        keys = instance / "demo-keys"
        keys.mkdir(mode=0o700, exist_ok=True)
        lines = ["secure-exchange demo accounts (local use only)", ""]
        for email, role, org in DEMO:
            password = secrets.token_urlsafe(12)
            accounts.add_user(ctx, email, role, org, password)
            lines.append(f"  {role:<9} {email:<22} password: {password}")
            if role in ("supplier", "bureau"):
                identity, recipient = new_identity()
                key_file = keys / f"{role}.agekey"
                key_file.touch(mode=0o600)
                key_file.write_text(f"# {org}\n# public key: {recipient}\n{identity}\n", encoding="utf-8")
                accounts.set_org_key(ctx, org, recipient)
                lines.append(f"            age identity to open its bundles: {key_file}")
        lines += ["", f"Case form: supplier '{DEMO[1][2]}', bureau '{DEMO[2][2]}'."]
    text = "\n".join(lines) + "\n"
    accounts_file.touch(mode=0o600)
    accounts_file.write_text(text, encoding="utf-8")
    click.echo(text)


@cli.group("audit")
def audit_group() -> None:
    """The tamper-evident access log."""


@audit_group.command("verify")
@click.option("--case", "case_id", default=None, help="Verify one case's chain only.")
def audit_verify(case_id: str | None) -> None:
    """Recompute every access-log hash chain; exit 1 when one is broken."""
    from exchange.services import audit

    with cli_context() as ctx:
        verdicts = audit.verify_all(ctx, case_id)
    broken = [(name, v) for name, v in verdicts if not v.ok]
    for name, verdict in verdicts:
        state = "ok" if verdict.ok else f"BROKEN at event {verdict.broken_at}: {verdict.reason}"
        click.echo(f"{name}: {verdict.length} events, {state}")
    if case_id and not verdicts[0][1].length:
        fail(f"no access-log events for case {case_id}")
    if broken:
        sys.exit(1)


@cli.command("reconcile")
@click.option("--loop", is_flag=True, help="Keep reconciling every EXCHANGE_RECONCILE_INTERVAL_SECONDS.")
def reconcile_command(loop: bool) -> None:
    """Relay queued jobs and re-queue lost ones (workers do this too; safe to run at any time)."""
    import time

    from exchange.services import reconciler
    from exchange.services.context import ServiceContext
    from exchange.wiring import build

    settings = load_settings()
    wired = build(settings)  # the real broker: relaying is the point
    try:
        while True:
            ctx = ServiceContext(
                session=wired.database.sessions(),
                blobs=wired.blobs,
                queue=wired.queue,
                settings=settings,
                client_addr="cli",
            )
            try:
                done = reconciler.reconcile(ctx)
            finally:
                ctx.session.close()
            click.echo(
                f"relayed {done.relayed} job(s); re-queued {len(done.requeued_files)} file job(s) "
                f"and {len(done.requeued_sealing)} sealing job(s); finalised {len(done.finalised)} case(s); "
                f"deleted {done.orphans_deleted} orphaned blob(s) and {done.workspaces_removed} workspace(s)"
            )
            if not loop:
                return
            time.sleep(settings.reconcile_interval_seconds)
    finally:
        wired.close()
