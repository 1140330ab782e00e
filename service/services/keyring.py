"""Where the keyring lives: a 0600 JSON file (or an environment secret), reloaded on change."""

from __future__ import annotations

import json
import os
import stat
import tempfile
import threading
from pathlib import Path

from service.domain.crypto import Keyring, KeyringError


def check_permissions(path: Path) -> None:
    """Refuse a keyring that anyone but its owner can read or write.

    A keyring owned by another user is a mounted secret (root's on Kubernetes, the
    operator's bind-mounted file under docker compose): this process can only read it
    through its group or other bits, and where it lives decides who else can. It is
    accepted read-only, but never when group or others may write it. See
    docs/deployment.md.
    """
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid != os.geteuid():
        if mode & 0o022:
            raise KeyringError(
                f"the keyring {path} has mode {mode:o}: group or others can change it. "
                "Mount the secret read-only (mode 0444 or tighter)."
            )
        return
    if mode & 0o077:
        raise KeyringError(
            f"the keyring {path} has mode {mode:o}: group or others can reach it. "
            f"Run 'chmod 600 {path}' and start again."
        )


def load_keyring_file(path: Path) -> Keyring:
    """Read a keyring file after checking that only its owner can read it."""
    try:
        check_permissions(path)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyringError(
            f"no keyring at {path}: create one with 'flask --app wsgi keys init'"
        ) from None
    except OSError as exc:
        raise KeyringError(f"the keyring {path} cannot be read ({exc.strerror})") from None
    return Keyring.from_json(text)


def write_keyring_file(path: Path, keyring: Keyring, *, create: bool) -> None:
    """Write a keyring with mode 0600: a new file, or an atomic replacement of the old one."""
    data = (json.dumps(keyring.to_dict(), indent=2) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if create:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyringError(
                f"a keyring already exists at {path}; it was left as it is"
            ) from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".keyring-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:  # mkstemp creates the file with mode 0600
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class KeyringSource:
    """The keyring a process uses, re-read when its file changes (after a rotation)."""

    def __init__(self, path: str | None, inline_json: str | None = None):
        self.path = Path(path) if path else None
        self._inline = inline_json
        self._lock = threading.Lock()
        self._keyring: Keyring | None = None
        self._stamp: tuple[int, int, int] | None = None

    @property
    def writable(self) -> bool:
        """Rotation and retirement rewrite the file; a keyring from the environment cannot."""
        return self._inline is None and self.path is not None

    def current(self) -> Keyring:
        """The keyring, re-read if its file has changed since it was last read."""
        if self._inline is not None:
            if self._keyring is None:
                self._keyring = Keyring.from_json(self._inline)
            return self._keyring
        if self.path is None:
            raise RuntimeError("no keyring path and no inline keyring")
        try:
            info = self.path.stat()
        except FileNotFoundError:
            raise KeyringError(
                f"no keyring at {self.path}: create one with 'flask --app wsgi keys init'"
            ) from None
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        with self._lock:
            if self._keyring is None or stamp != self._stamp:
                self._keyring = load_keyring_file(self.path)
                self._stamp = stamp
            return self._keyring

    def reload(self) -> Keyring:
        """Forget the cached keyring and read it again."""
        with self._lock:
            self._stamp = None
        return self.current()

    def replace(self, keyring: Keyring) -> None:
        """Write a changed keyring back to its file."""
        if not self.writable or self.path is None:
            raise KeyringError(
                "the keyring comes from PSAM_KEYRING_JSON: change that secret instead"
            )
        write_keyring_file(self.path, keyring, create=False)
        self.reload()
