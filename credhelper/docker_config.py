"""Safe edits of docker's ``config.json``: atomic, every other key kept, a backup beside it.

The file holds a user's other registries' auths and settings, so an edit must never lose or
spoil it:

* we lock, re-read, change only ``credHelpers``/``credsStore``, keep the previous content as
  ``config.json.bak`` and replace the file in one rename;
* a symlinked ``config.json`` (dotfile managers) is edited at its target and the link kept,
  as the docker CLI does;
* owner, group and mode are kept (``sudo ecrpy configure`` on a user's file must not hand it
  to root);
* every value is written back as it was read: numbers keep their original text (``1e400``
  would otherwise become ``Infinity``, which docker rejects; big ints and ``-0.0`` stay
  exact), so docker reads the same document plus our keys;
* a file we cannot parse (invalid, absurdly nested) is refused in one line and left alone.
"""

from __future__ import annotations

import os
import sys
import time

from . import paths
from ._value import Value
from .errors import ConfigError, EcrpyError, environment_error
from .fsutil import atomic_write, read_regular
from .lock import FileLock, LockTimeoutError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

HELPER_NAME = "ecrpy"
LOCK_TIMEOUT = 5.0  # seconds another `ecrpy configure` may hold the file before we give up
_MAX_SIZE = 16 * 1024 * 1024  # the suite's 779 kB config is already unusually large
_POSIX = sys.platform != "win32"


class RawNumber(Value):
    """A JSON number kept as the text it was written with (never converted, never rounded)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (docker rejects it too)")


def config_path(directory: str | None = None) -> str:
    """``$DOCKER_CONFIG/config.json`` (or ``~/.docker/config.json``)."""
    return os.path.join(directory or paths.docker_config_dir(), "config.json")


def read(path: str) -> dict[str, Any]:
    """The parsed file; ``{}`` when missing; ``ConfigError`` when it is not a JSON object.

    Numbers come back as ``RawNumber`` (their text), so ``dumps`` writes them unchanged.
    """

    try:
        raw = read_regular(path, _MAX_SIZE, follow_symlinks=True)
    except FileNotFoundError:
        return {}
    except OSError as exc:  # ConfigError, which `ecrpy doctor` reports as a failed check
        problem = environment_error(f"read {path}", exc)
        raise ConfigError(problem.message, hint=problem.hint) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path} is not UTF-8 text", hint="fix or move the file; ecrpy will not overwrite it"
        ) from None
    return read_text(text, path)


def read_text(text: str, path: str = "config.json") -> dict[str, Any]:
    """``read`` for text already in memory (``path`` names it in errors)."""
    import json

    if not text.strip():
        return {}
    try:
        data = json.loads(
            text, parse_float=RawNumber, parse_int=RawNumber, parse_constant=_refuse_constant
        )
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})",
            hint="fix or move the file; ecrpy will not overwrite it",
        ) from None
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ConfigError(
            f"{path} is not a usable docker config ({why})",
            hint="fix or move the file; ecrpy will not overwrite it",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


def dumps(value: object, level: int = 0) -> str:
    """``json.dumps(value, indent="\\t")`` for parsed documents, with ``RawNumber`` kept as text."""
    import json

    if isinstance(value, RawNumber):
        return value.text
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = "\n" + "\t" * (level + 1)
        items = [f"{json.dumps(str(k))}: {dumps(v, level + 1)}" for k, v in value.items()]
        return "{" + inner + ("," + inner).join(items) + "\n" + "\t" * level + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = "\n" + "\t" * (level + 1)
        items = [dumps(v, level + 1) for v in value]
        return "[" + inner + ("," + inner).join(items) + "\n" + "\t" * level + "]"
    return json.dumps(value)


class Change:
    """What an edit did (for the command's report).

    ``added``/``unchanged``/``removed`` name credHelpers hosts or ``credsStore``; ``replaced``
    maps an item to the value it had before (another helper's name, as JSON text); ``kept``
    maps an item ``remove`` was asked for but left alone to why; ``restored`` maps a removed
    ``credsStore`` to the value put back (the one ``--force`` replaced, as JSON text, and
    when). ``warnings``: what went wrong after the file was written (it was).
    """

    def __init__(
        self,
        path: str,
        added: list[str],
        unchanged: list[str],
        backup: str | None,
        replaced: dict[str, str] | None = None,
        removed: list[str] | None = None,
        kept: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self.added = added
        self.unchanged = unchanged
        self.backup = backup
        self.replaced = replaced or {}
        self.removed = removed or []
        self.kept = kept or {}
        self.restored: dict[str, str] = {}
        self.warnings: list[str] = []
        self._store: str | None = None  # the credsStore value to remember or to put back

    @property
    def changed(self) -> bool:
        """True when the document differs from what was read."""
        return bool(self.added or self.removed)


class CredsStoreTakenError(ConfigError):
    """``credsStore`` names another helper, and ``--force`` was not given."""


def shown(value: object) -> str:
    """A config value as one line of JSON text (``"desktop"``), for messages."""
    try:
        return " ".join(dumps(value).split())
    except RecursionError:
        return "(a deeply nested value)"


def configure(
    hosts: list[str],
    default: bool = False,
    directory: str | None = None,
    dry_run: bool = False,
    force: bool = False,
) -> Change:
    """Point ``hosts`` (and, with ``default``, every registry) at ``docker-credential-ecrpy``.

    ``default`` never silently replaces another ``credsStore`` (``desktop``, ``osxkeychain``,
    ``pass``...): the logins kept there would vanish from docker's view. Without ``force`` that
    is ``CredsStoreTakenError`` and nothing is written; with it the old value is replaced and
    stays in the backup.
    """

    def edit(path: str, data: dict[str, Any]) -> Change:
        helpers = _helpers(path, data)
        change = Change(path, [], [], None)
        for host in hosts:
            old = helpers.get(host)
            if old == HELPER_NAME:
                change.unchanged.append(host)
                continue
            if old is not None:
                change.replaced[host] = shown(old)
            helpers[host] = HELPER_NAME
            change.added.append(host)
        if hosts:
            data["credHelpers"] = helpers
        if default:
            store = data.get("credsStore")
            if store == HELPER_NAME:
                change.unchanged.append("credsStore")
            else:
                if store not in (None, "") and not force:
                    raise _taken(path, store)
                if store not in (None, ""):
                    change.replaced["credsStore"] = shown(store)
                    change._store = store if isinstance(store, str) else None
                data["credsStore"] = HELPER_NAME
                change.added.append("credsStore")
        return change

    def after(path: str, change: Change) -> None:
        """Keep the credsStore ``--force`` replaced for ``--remove`` (taking over an empty
        one drops an older record: ecrpy replaced nothing this time)."""
        if "credsStore" not in change.added:
            return
        from . import replaced_store
        from .report_json import utc_iso

        try:
            if change._store is not None:
                replaced_store.remember(path, change._store, utc_iso(time.time()))
            else:
                replaced_store.forget(path)
        except OSError as exc:
            if change._store is not None:
                change.warnings.append(
                    f"could not record the replaced credsStore {shown(change._store)} for "
                    f"`ecrpy configure --remove` ({exc.strerror or exc}): put it back by hand "
                    f"when you remove ecrpy (it is in {os.path.basename(path)}.bak)"
                )

    return _apply(directory, dry_run, edit, create=True, after=after)


def _taken(path: str, store: object) -> CredsStoreTakenError:
    old = shown(store)
    return CredsStoreTakenError(
        f"credsStore in {path} is already {old}, so ecrpy will not take it over",
        hint=f'--force replaces it with "ecrpy" (the old value stays in '
        f"{os.path.basename(path)}.bak and configure --remove puts it back; logins kept by "
        f"{old} are not used meanwhile), or configure only ECR registries: "
        "ecrpy configure REGISTRY",
    )


def remove(
    hosts: list[str], default: bool = False, directory: str | None = None, dry_run: bool = False
) -> Change:
    """Undo ``configure``: drop ``credHelpers`` entries (and, with ``default``, ``credsStore``)
    whose value is ``ecrpy``; anything pointing at another helper is left alone. A
    ``credsStore`` that ``configure --default --force`` replaced is put back, not deleted.

    No ``hosts`` and no ``default``: every ``ecrpy`` entry goes. Idempotent: nothing to remove
    means nothing written (no backup, no file created). ``hosts`` are matched after
    normalisation, so ``https://HOST/`` finds ``host``.
    """
    from . import registry

    everything = not hosts and not default

    def key(name: str) -> str:
        return registry.normalize(name) or name.strip().lower()

    def edit(path: str, data: dict[str, Any]) -> Change:
        helpers = _helpers(path, data)
        change = Change(path, [], [], None)
        wanted = {key(h): h for h in hosts}
        found: set[str] = set()
        for name, value in list(helpers.items()):
            if not everything and key(name) not in wanted:
                continue
            found.add(key(name))
            if value == HELPER_NAME:
                del helpers[name]
                change.removed.append(name)
            elif not everything:
                change.kept[name] = f"it uses {shown(value)}, not ecrpy"
        for k, given in wanted.items():
            if k not in found:
                change.kept[given] = "not in credHelpers"
        if change.removed and not helpers:
            del data["credHelpers"]  # what the docker CLI writes for none (omitempty)
        if default or everything:
            store = data.get("credsStore")
            if store == HELPER_NAME:
                from . import replaced_store

                previous = replaced_store.recall(path)
                if previous is None:
                    del data["credsStore"]
                else:
                    data["credsStore"] = previous[0]
                    change.restored["credsStore"] = (
                        f"{shown(previous[0])}, which configure --force replaced at {previous[1]}"
                    )
                change.removed.append("credsStore")
            elif default:
                change.kept["credsStore"] = (
                    "not set" if store in (None, "") else f"it is {shown(store)}, not ecrpy"
                )
        return change

    def after(path: str, change: Change) -> None:
        if not change.restored:
            return
        from . import replaced_store

        try:
            replaced_store.forget(path)
        except OSError as exc:  # harmless: the next --remove finds credsStore not ecrpy
            change.warnings.append(
                f"could not drop the record of the restored credsStore ({exc.strerror or exc})"
            )

    return _apply(directory, dry_run, edit, create=False, after=after)


def _helpers(path: str, data: dict[str, Any]) -> dict[str, Any]:
    helpers = data.get("credHelpers", {})
    if not isinstance(helpers, dict):
        raise ConfigError(f"{path}: credHelpers must be a JSON object")
    return helpers


def _apply(
    directory: str | None,
    dry_run: bool,
    edit: Callable[[str, dict[str, Any]], Change],
    create: bool,
    after: Callable[[str, Change], None] | None = None,
) -> Change:
    """Read, ``edit`` and (if it changed something) write the file, under its lock.

    ``create`` False: a missing file is an empty document and nothing is created (not even
    the folder or the lock file). ``after`` runs once the file is written, still under the
    lock (not on a dry run, not when nothing changed).
    """
    path = config_path(directory)
    # Edit the file a symlink points to, and keep the link (what the docker CLI does).
    target = os.path.realpath(path)
    try:
        if dry_run or (not create and not os.path.lexists(target)):
            return edit(path, read(target))
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        lock = FileLock(target + ".lock", timeout=LOCK_TIMEOUT)
        try:
            lock.acquire()
        except LockTimeoutError:
            raise ConfigError(
                f"{path} is locked by another process ({target}.lock held for {LOCK_TIMEOUT:.0f}s)",
                hint="let the other `ecrpy configure` finish, then retry",
            ) from None
        try:
            _give_to_owner(target + ".lock", os.path.dirname(target))
            data = read(target)  # re-read under the lock: another edit may have landed
            change = edit(path, data)
            if change.changed:
                change.backup = _write(target, _encode(path, data))
                if after is not None:
                    after(path, change)
            return change
        finally:
            lock.release()
    except EcrpyError:
        raise
    except OSError as exc:  # a read-only folder, a full disk, permissions
        raise environment_error(f"edit the docker config {path}", exc) from None


def _encode(path: str, data: dict[str, Any]) -> bytes:
    try:
        text = dumps(data) + "\n"
    except RecursionError:
        raise ConfigError(
            f"{path} is not a usable docker config (nested too deeply)",
            hint="fix or move the file; ecrpy will not overwrite it",
        ) from None
    return text.encode("utf-8")


def _write(target: str, data: bytes) -> str | None:
    """Replace ``target`` (keeping its owner, group and mode) after backing it up."""
    mode, owner, backup = 0o600, None, None
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None:
        mode = st.st_mode & 0o777
        owner = (st.st_uid, st.st_gid)
        backup = target + ".bak"
        atomic_write(backup, read_regular(target, _MAX_SIZE, follow_symlinks=True), mode, owner)
    else:
        owner = _folder_owner(os.path.dirname(target))
    atomic_write(target, data, mode, owner)
    return backup


def _folder_owner(folder: str) -> tuple[int, int] | None:
    """The owner of ``folder`` (a new file in a user's ~/.docker is the user's)."""
    if not _POSIX:
        return None
    st = os.stat(folder)
    return st.st_uid, st.st_gid


def _give_to_owner(path: str, folder: str) -> None:
    """Hand a file we created in someone else's folder to them (root running for a user)."""
    owner = _folder_owner(folder)
    if owner is None or os.geteuid() != 0:
        return
    st = os.stat(path)
    if (st.st_uid, st.st_gid) != owner:
        os.chown(path, *owner)
