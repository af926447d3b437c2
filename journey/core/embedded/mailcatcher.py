"""The embedded SMTP mail catcher: every message `journey dev` sends lands in a Maildir on disk.

aiosmtpd's Mailbox handler does the Maildir writing; this module only owns the server lifecycle.
"""

from __future__ import annotations

import mailbox
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class MailCatcher:
    def __init__(self, mail_dir: Path, host: str, port: int) -> None:
        self.mail_dir = mail_dir
        self.host = host
        self.port = port
        mail_dir.parent.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(Mailbox(mail_dir), hostname=host, port=port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def message_count(self) -> int:
        return len(mailbox.Maildir(self.mail_dir, create=False))
