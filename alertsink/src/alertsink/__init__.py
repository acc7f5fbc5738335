"""The alert sink: a local receiver for Alertmanager's Slack, PagerDuty v2 and webhook posts.

It stands in for real notification services so that an alert visibly arrives somewhere with no
account anywhere, and so that tests can assert what each receiver was sent.
"""

from flask import Flask

from alertsink import api, metrics, receive, store


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    # ALERTSINK_MAX_NOTIFICATIONS in the environment overrides the bound on what is kept.
    app.config.from_mapping(MAX_NOTIFICATIONS=10_000)
    app.config.from_prefixed_env("ALERTSINK")
    if test_config is not None:
        app.config.from_mapping(test_config)

    store.init_app(app)
    metrics.init_app(app)
    app.register_blueprint(receive.bp)
    app.register_blueprint(api.bp)
    return app
