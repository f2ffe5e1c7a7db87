"""The ceiling: a bare Flask app answering a constant JSON body, served with the same gunicorn config as the
app. No Flask endpoint can beat it on this machine; every endpoint is reported as a fraction of it."""

from flask import Flask

app = Flask(__name__)


@app.get("/ceiling")
def ceiling() -> dict[str, str]:
    return {"status": "ok", "detail": "a constant body, about as long as a small profile"}
