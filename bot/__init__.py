"""Complaint Desk: the Flask app factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bot import config as config_module
from bot.config import Config

log = logging.getLogger(__name__)


def create_app(config: Config | dict[str, Any] | str | None = None) -> Flask:
    """Build the app from a Config, a raw mapping, a TOML path or the default lookup."""
    if isinstance(config, Config):
        settings = config
    elif isinstance(config, dict):
        settings = config_module.validate(config, "<mapping>")
    else:
        settings = config_module.load(config)
    app = Flask(__name__, instance_relative_config=False)
    app.config["BOT"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings["wechat.max_body_bytes"]
    if settings["server.proxy_hops"]:
        # behind nginx the client's address is in X-Forwarded-For (login throttling)
        hops = settings["server.proxy_hops"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    from storage import workdays
    from storage.db import get_db

    get_db(settings["storage.path"])  # create and migrate the database before serving
    # every entry point (serve, the CLI's digest and sweep, tests) counts deadlines alike
    workdays.configure(settings["calendar.holidays_file"])
    _warm_up()
    for blueprint in _blueprints():
        app.register_blueprint(blueprint)
    return app


def _warm_up() -> None:
    """Load the classifier (jieba's dictionary, keyword files) before the first message."""
    from keywords import classify
    from keywords.tomlfile import DataError

    try:
        classify("预热")
    except DataError as error:
        raise config_module.ConfigError(f"keyword data files: {error}") from None


def _blueprints() -> tuple:
    """Every part of the app, registered in one explicit, ordered place."""
    from bot import api, console, health, webhook
    from bot.digest import views as digest_views

    return (health.blueprint, webhook.blueprint,
            console.blueprint, api.blueprint, digest_views.blueprint)
