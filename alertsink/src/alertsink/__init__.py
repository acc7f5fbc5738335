"""The alert sink: a local receiver for Alertmanager's Slack, PagerDuty v2 and webhook posts.

It stands in for real notification services so that an alert visibly arrives somewhere with no
account anywhere, and so that tests can assert what each receiver was sent.

Configuration (environment, read by `python -m alertsink`):
- `ALERTSINK_PORT` (required, from `.env`; or `--port`), `ALERTSINK_HOST` (default 127.0.0.1);
- `ALERTSINK_RECEIVERS`: comma-separated receiver names, default the five of alertmanager.yml
  (docs/contracts.md). The `receiver` label of `alertsink_notifications_total` takes only these
  values; a post to any other name (`/slack/<anything>`) is still answered and recorded as
  received, but counted under `receiver="other"`, so stray URLs cannot grow the series without
  bound. The native launcher passes the names alertmanager.yml declares.
- `ALERTSINK_MAX_NOTIFICATIONS`: how many notifications are kept in memory (default 10,000).
"""

from flask import Flask

from alertsink import api, metrics, receive, store

# docs/contracts.md, "Alertmanager and the alert sink".
DEFAULT_RECEIVERS = (
    "default",
    "marketplace-oncall",
    "marketplace-team",
    "marketplace-info",
    "watchdog",
)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(MAX_NOTIFICATIONS=10_000, RECEIVERS=",".join(DEFAULT_RECEIVERS))
    # ALERTSINK_<KEY> in the environment overrides each of these.
    app.config.from_prefixed_env("ALERTSINK")
    if test_config is not None:
        app.config.from_mapping(test_config)

    store.init_app(app)
    metrics.init_app(app)
    app.register_blueprint(receive.bp)
    app.register_blueprint(api.bp)
    return app
