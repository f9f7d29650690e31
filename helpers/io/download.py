"""Downloads that cannot hang or fill the disk: the one streaming loop behind URL inputs and weights.

``download_file(url, path, max_bytes=..., deadline=...)`` streams a URL into ``path`` atomically
(a temporary file beside it, renamed when complete and checked), with:

- an overall deadline in seconds, checked against a clock between reads; the connection itself runs
  in a helper thread, so that not even name resolution or a server that never answers can hold it up;
- a stall check: less than ``STALL_BYTES`` in ``STALL_SECONDS`` is given up on (a server that trickles);
- a size cap: a Content-Length above it is refused before the body is read, and the bytes are counted
  as they arrive (a server may send more than it announced, or announce nothing);
- a few retries with back-off for failures that are usually transient (5xx answers, resets, timeouts,
  a body cut short), as pip does; a 404 or a refused size is final at once;
- an optional sha256 prefix check (torchvision's weight files carry one in their names).

Every failure is a ``DownloadError`` with a one-line message that names the URL. Problems with the
local folder (read-only, a file in the way) are left as the ``OSError`` they are, raised before
anything is downloaded, so that callers can name the folder to fix.
"""

from __future__ import annotations

import hashlib
import http.client
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .files import atomic_file

RETRIES = 3  # after the first try; waits BACKOFF, 2 * BACKOFF, 4 * BACKOFF seconds between them
BACKOFF = 0.5
STALL_SECONDS = 30.0
STALL_BYTES = 16 * 1024
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
CHUNK = 1 << 16
USER_AGENT = "neural-style-course (python urllib)"


class DownloadError(OSError):
    """A download failed; the message is one line naming the URL and what happened."""

    def __init__(self, message: str):
        # One printable line, whatever the server sent (urllib's redirect-loop reason spans lines).
        super().__init__("".join(c if c.isprintable() else "?" for c in " ".join(str(message).split())))


class _Transient(Exception):
    """A failure worth another try (the message says what happened)."""


class _OutOfTime(Exception):
    pass


def size_text(count: int) -> str:
    """A byte count for people: 315 kB, 548.1 MB."""
    if count < 1e6:
        return f"{count / 1e3:.0f} kB" if count >= 1e3 else f"{count} bytes"
    return f"{count / 1e6:.1f} MB" if count < 1e9 else f"{count / 1e9:.1f} GB"


def check_url(url: str) -> None:
    """Refuse anything but an absolute http(s) URL, with a message that says what is missing."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (reading it checks it: a port that is not a number raises here)
    except ValueError as err:  # an unclosed [IPv6] bracket, a port like :abc
        raise DownloadError(f"{url}: not a valid address ({err})") from None
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise DownloadError(f"{url}: the address names no host (http://HOST/PATH)")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        hint = (f"; did you mean http://{url}?" if parts.scheme in ("", "localhost") or parts.path[:1].isdigit()
                else "")
        raise DownloadError(f"{url}: not an http:// or https:// address{hint}")


def download_file(url: str, path: str | Path, *, max_bytes: int, deadline: float, timeout: float = 15.0,
                  sha256_prefix: str | None = None, progress: bool = False, retries: int | None = None,
                  backoff: float | None = None) -> Path:
    """Download ``url`` into ``path`` atomically: either the whole checked file is there, or nothing new.

    max_bytes: the most that will be accepted; deadline: seconds for the whole download, retries
    included; timeout: seconds for the connection and for each read. Raises DownloadError.
    """
    check_url(url)
    retries = RETRIES if retries is None else retries
    backoff = BACKOFF if backoff is None else backoff
    path = Path(path)
    start = time.monotonic()
    # Written beside the target and renamed when complete and checked (folder problems surface before the
    # network is touched); any error leaves nothing new.
    with atomic_file(path) as file:
        attempt = 0
        while True:
            file.seek(0)
            file.truncate()
            try:
                digest = _fetch(url, file, max_bytes, start, deadline, timeout, progress)
                break
            except _OutOfTime as err:
                raise DownloadError(f"{url}: gave up after {time.monotonic() - start:.1f} s ({err}; "
                                    f"the deadline is {deadline:g} s)") from None
            except _Transient as err:
                attempt += 1
                pause = backoff * 2 ** (attempt - 1)
                tries = f" ({attempt} tr{'ies' if attempt > 1 else 'y'})"
                if attempt > retries:
                    raise DownloadError(f"{url}: {err}{tries}") from None
                if time.monotonic() - start + pause >= deadline:
                    raise DownloadError(f"{url}: {err}{tries}; no time left to retry within the deadline "
                                        f"of {deadline:g} s") from None
                time.sleep(pause)
        if sha256_prefix and not digest.startswith(sha256_prefix):
            raise DownloadError(f"{url}: the file arrived damaged or is not the expected one (its sha256 "
                                f"{digest[:12]}... does not start with {sha256_prefix}); try again")
    return path


def _fetch(url, file, max_bytes, start, deadline, timeout, progress) -> str:
    """One try: stream the body into ``file``; returns the sha256 of what was written."""
    response = _connect(url, timeout, _time_left(start, deadline, "no answer"))
    bar = None
    try:
        length = _content_length(url, response)
        if length is not None and length > max_bytes:
            raise DownloadError(f"{url}: the server announces {size_text(length)}, more than the limit of "
                                f"{size_text(max_bytes)} for this download")
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=length, unit="B", unit_scale=True, desc=Path(urllib.parse.urlsplit(url).path).name,
                       file=sys.stderr, mininterval=1.0)
        digest, received = hashlib.sha256(), 0
        window_start, window_bytes = time.monotonic(), 0
        while True:
            left = _time_left(start, deadline, f"{size_text(received)} had arrived")
            _set_read_timeout(response, min(timeout, left))
            try:
                chunk = response.read1(CHUNK)
            except TimeoutError:
                if time.monotonic() - start >= deadline:
                    raise _OutOfTime(f"{size_text(received)} had arrived") from None
                raise _Transient(f"no data for {timeout:g} s after {size_text(received)}") from None
            except (OSError, http.client.HTTPException, ValueError) as err:
                raise _Transient(f"the connection broke after {size_text(received)} "
                                 f"({type(err).__name__}: {err})") from None
            if not chunk:
                break
            received += len(chunk)
            if received > max_bytes:
                raise DownloadError(f"{url}: more than the limit of {size_text(max_bytes)} arrived "
                                    f"(the server {'announced ' + size_text(length) if length else 'gave no size'}); "
                                    "stopped")
            file.write(chunk)  # a full disk is an OSError of its own, not a network failure to retry
            digest.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
            now = time.monotonic()
            if now - window_start >= STALL_SECONDS:
                if received - window_bytes < STALL_BYTES:
                    raise DownloadError(f"{url}: the download stalled ({size_text(received - window_bytes)} in "
                                        f"the last {now - window_start:.0f} s, {size_text(received)} in all); "
                                        "try again later")
                window_start, window_bytes = now, received
        if length is not None and received < length:
            raise _Transient(f"the download was cut short: {size_text(received)} of the {size_text(length)} "
                             "announced arrived")
        return digest.hexdigest()
    finally:
        if bar is not None:
            bar.close()
        response.close()


def _time_left(start: float, deadline: float, what: str) -> float:
    left = deadline - (time.monotonic() - start)
    if left <= 0:
        raise _OutOfTime(what)
    return left


def _connect(url: str, timeout: float, left: float):
    """urlopen in a helper thread, abandoned when the deadline passes (DNS lookups take no timeout)."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    box: dict = {}
    abandoned = threading.Event()

    def work():
        try:
            box["response"] = urllib.request.urlopen(request, timeout=min(timeout, left))
        except BaseException as err:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = err
        if abandoned.is_set() and "response" in box:
            box["response"].close()

    thread = threading.Thread(target=work, daemon=True, name="download")
    thread.start()
    thread.join(left)
    if thread.is_alive():
        abandoned.set()
        raise _OutOfTime("no answer from the server")
    error = box.get("error")
    if error is None:
        return box["response"]
    if isinstance(error, urllib.error.HTTPError):
        error.close()
        message = f"the server answered {error.code} {error.reason}"
        if error.code in TRANSIENT_STATUS:
            raise _Transient(message)
        raise DownloadError(f"{url}: {message}")
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError) and left <= timeout:
        # the socket's timeout was the time left, so the deadline (not the per-read timeout) ran out;
        # the socket and the join above race to notice it first, and both mean the same thing
        raise _OutOfTime("no answer from the server")
    if isinstance(reason, (ConnectionResetError, ConnectionAbortedError, TimeoutError, http.client.HTTPException)):
        raise _Transient(f"{type(reason).__name__}: {reason}")
    if isinstance(error, (OSError, http.client.HTTPException, ValueError)):
        raise DownloadError(f"{url}: could not connect ({reason})")
    raise error


def _content_length(url: str, response) -> int | None:
    values = response.headers.get_all("Content-Length") or []
    if not values:
        return None
    texts = {value.strip() for value in values}
    if len(texts) != 1 or not next(iter(texts)).isdigit():
        raise DownloadError(f"{url}: the server sent a nonsense Content-Length header ({', '.join(values)!r})")
    return int(next(iter(texts)))


def _set_read_timeout(response, seconds: float) -> None:
    """Shorten the socket's timeout to the time left, so that one silent read cannot overrun the deadline."""
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        try:
            sock.settimeout(max(0.01, seconds))
        except OSError:
            pass
