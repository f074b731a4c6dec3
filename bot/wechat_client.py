"""wechatpy's ``WeChatClient``, fixed for this deployment.

wechatpy 1.8.18 has four traps that matter here: ``fetch_access_token``
hard-codes api.weixin.qq.com (tests and the demo point ``api_base_url`` at a
fake), its auto-retry on token errors recurses without bound, the token
fetch has no timeout, and the token's expiry lives in one process. This
module keeps wechatpy's request code but routes every URL through
``api_base_url``, refreshes a rejected token once, uses
``wechat.request_timeout_seconds`` everywhere and keeps the token in the
SQLite ``kv`` table so every process shares one.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
from sqlite_utils import Database
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from bot.config import Config

log = logging.getLogger(__name__)

OFFICIAL_ROOT = "https://api.weixin.qq.com/"
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
WINDOW_ERRORS = frozenset({45015, 45047})  # 48 h window closed / 5 messages used
PERMANENT_ERRORS = frozenset({40003, 40036, 40037, 43004, 43019, 47001}) | WINDOW_ERRORS
REFRESH_MARGIN_SECONDS = 300  # fetch a new token this long before the old one expires


class SendError(RuntimeError):
    """A message WeChat did not take; ``retryable`` says whether trying later can help."""

    def __init__(self, reason: str, *, retryable: bool, errcode: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.errcode = errcode

    @property
    def window_closed(self) -> bool:
        """The customer-service window is closed: a template may still reach the user."""
        return self.errcode in WINDOW_ERRORS


class KvSessionStorage(SessionStorage):
    """wechatpy session storage in the ``kv`` table, shared by every process on the db."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get_with_expiry(self, key: str) -> tuple[str | None, float | None]:
        """The stored value and its expiry (epoch seconds), or (None, None)."""
        rows = list(self.db.query("SELECT value, expires_at FROM kv WHERE key = ?", [key]))
        if not rows:
            return None, None
        return rows[0]["value"], rows[0]["expires_at"]

    def get(self, key: str, default: Any = None) -> Any:
        value, expires_at = self.get_with_expiry(key)
        if value is None or (expires_at is not None and expires_at <= time.time()):
            return default
        return value

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        if value is None:
            return
        expires_at = time.time() + ttl if ttl else None
        self.db.execute(
            "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key)"
            " DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
            [key, str(value), expires_at],
        )

    def delete(self, key: str) -> None:
        self.db.execute("DELETE FROM kv WHERE key = ?", [key])


class DeskWeChatClient(WeChatClient):
    """``WeChatClient`` that honours ``api_base_url`` and shares its token through kv."""

    def __init__(self, appid: str, secret: str, *, api_base_url: str, timeout: float,
                 session: KvSessionStorage) -> None:
        super().__init__(appid, secret, session=session, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base_url

    @property
    def access_token_key(self) -> str:
        return f"wechat:access_token:{self.appid}"

    @property
    def access_token(self) -> str:
        """The shared token, fetched when missing or about to expire."""
        token, expires_at = self.session.get_with_expiry(self.access_token_key)
        if token and (expires_at is None or expires_at - time.time() > REFRESH_MARGIN_SECONDS):
            return token
        self.fetch_access_token()
        return self.session.get(self.access_token_key)

    def fetch_access_token(self) -> dict[str, Any]:
        """GET ``{api_base_url}token`` with a timeout; stores the token in kv."""
        log.info("wechat: fetching access token for appid %s", self.appid)
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        res = self._http.get(self.API_BASE_URL + "token", params=params, timeout=self.timeout)
        self._raise_for_status(res)
        result = res.json()
        if result.get("errcode"):
            raise WeChatClientException(result["errcode"], result.get("errmsg"), client=self,
                                        request=res.request, response=res)
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result

    def refresh_access_token(self, rejected: str) -> str:
        """A new token after WeChat rejected ``rejected``; reuses one another process got."""
        current = self.session.get(self.access_token_key)
        if current and current != rejected:
            return current
        self.fetch_access_token()
        return self.session.get(self.access_token_key)

    def _raise_for_status(self, res: requests.Response) -> None:
        try:
            res.raise_for_status()
        except requests.HTTPError as error:
            raise WeChatClientException(None, None, client=self, request=error.request,
                                        response=error.response) from error

    def _rebase(self, url_or_endpoint: str, api_base_url: str | None) -> str:
        """Absolute URL under ``api_base_url``, also for endpoints with their own base."""
        base = self.API_BASE_URL
        url = url_or_endpoint
        if not url.startswith(("http://", "https://")):
            url = (api_base_url or base) + url
        if url.startswith(OFFICIAL_ROOT) and base != OFFICIAL_ROOT + "cgi-bin/":
            root = base[: -len("cgi-bin/")] if base.endswith("cgi-bin/") else base
            url = root + url[len(OFFICIAL_ROOT):]
        return url

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        """One call, and one more with a fresh token if WeChat rejected the first token."""
        url = self._rebase(url_or_endpoint, kwargs.pop("api_base_url", None))
        kwargs.setdefault("timeout", self.timeout)
        params = kwargs.get("params")
        if isinstance(params, dict) and "access_token" in params:
            return super()._request(method, url, **kwargs)
        token = self.access_token
        try:
            return self._request_with(method, url, token, kwargs)
        except WeChatClientException as error:
            if error.errcode not in TOKEN_ERRORS:
                raise
        log.info("wechat: access token rejected, refreshing once")
        return self._request_with(method, url, self.refresh_access_token(token), kwargs)

    def _request_with(self, method: str, url: str, token: str, kwargs: dict[str, Any]) -> Any:
        params = dict(kwargs.get("params") or {}, access_token=token)
        return super()._request(method, url, **{**kwargs, "params": params})

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()


def make_client(cfg: Config, db: Database) -> DeskWeChatClient:
    """The app's client: config's base URL, appid, secret and timeout; token in ``db``."""
    _hide_urls_from_debug_logs()
    return DeskWeChatClient(
        cfg["wechat.appid"],
        cfg["wechat.secret"],
        api_base_url=cfg["wechat.api_base_url"],
        timeout=cfg["wechat.request_timeout_seconds"],
        session=KvSessionStorage(db),
    )


def _hide_urls_from_debug_logs() -> None:
    """urllib3 logs full URLs at DEBUG: they carry the access token and the app secret."""
    pool_log = logging.getLogger("urllib3.connectionpool")
    if pool_log.level < logging.INFO:
        pool_log.setLevel(logging.INFO)


def send_text(client: WeChatClient, openid: str, text: str) -> dict[str, Any]:
    """A customer-service text message; raises SendError."""
    return _call(client.message.send_text, openid, text)


def send_template(
    client: WeChatClient, openid: str, template_id: str, data: dict[str, Any], url: str = ""
) -> dict[str, Any]:
    """A template message (units, leaders, citizens past the 48 h window); raises SendError."""
    return _call(client.message.send_template, openid, template_id, data, url or None)


def _call(method: Any, *args: Any) -> dict[str, Any]:
    try:
        return method(*args)
    except (WeChatClientException, requests.RequestException) as error:
        raise classify(error) from error


def classify(error: Exception) -> SendError:
    """Retryable (outage, timeout, busy, token trouble) or permanent (the message itself)."""
    if isinstance(error, requests.Timeout):
        return SendError("timeout", retryable=True)
    if isinstance(error, requests.RequestException):
        return SendError(f"connection error: {type(error).__name__}", retryable=True)
    if not isinstance(error, WeChatClientException):
        return SendError(f"unexpected error: {type(error).__name__}", retryable=True)
    if error.errcode is None:
        status = getattr(error.response, "status_code", None)
        return SendError(f"HTTP {status}", retryable=True)
    code = int(error.errcode)
    reason = f"errcode {code}: {error.errmsg}"
    return SendError(reason, retryable=code not in PERMANENT_ERRORS, errcode=code)
