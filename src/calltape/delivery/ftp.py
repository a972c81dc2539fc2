"""Uploading one recording by FTP or FTPS (``ftp://user:password@host:port/dir``): the file name only, no query.

Blocking (stdlib ``ftplib``): the delivery worker runs it in a thread.
"""

from __future__ import annotations

import ftplib
from pathlib import Path
from urllib.parse import unquote, urlsplit

from calltape.at_rest.sealed import open_file
from calltape.delivery.http import UploadError

TIMEOUT = 30.0


def ftp_upload(url: str, name: str, path: Path) -> str:
    """STOR *path* as *name* in the URL's directory; where it went (without the password)."""
    parts = urlsplit(url)
    secure = parts.scheme.lower() == "ftps"
    ftp: ftplib.FTP = ftplib.FTP_TLS(timeout=TIMEOUT) if secure else ftplib.FTP(timeout=TIMEOUT)
    host = parts.hostname or ""
    try:
        ftp.connect(host, parts.port or 21)
        ftp.login(unquote(parts.username or "anonymous"), unquote(parts.password or ""))
        if isinstance(ftp, ftplib.FTP_TLS):
            ftp.prot_p()
        directory = unquote(parts.path).strip("/")
        if directory:
            ftp.cwd(directory)
        with open_file(path) as fh:  # decrypted if sealed at rest
            ftp.storbinary(f"STOR {name}", fh)
        ftp.quit()
    except (ftplib.Error, OSError, EOFError) as exc:
        ftp.close()
        raise UploadError(f"FTP to {host}: {exc}") from None
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/{directory + '/' if directory else ''}{name}"
