# syntax=docker/dockerfile:1
# Build stage: wheels for the pinned requirements, compiled where needed.
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt .
RUN python -m venv /venv && /venv/bin/pip install -r requirements.txt

# Run stage: the virtualenv and the code, as a user that owns nothing it could damage.
FROM python:3.12-slim
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENV=production \
    FLASK_APP=wsgi \
    HOST=0.0.0.0 \
    PORT=8000
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home app
WORKDIR /app
COPY --from=build /venv /venv
# Owned by root and read-only to the app: a compromised process cannot rewrite its own code.
COPY referral ./referral
COPY migrations ./migrations
COPY config.py wsgi.py gunicorn.conf.py boot.sh ./
# The pages' catalogues, compiled in the image (the .mo files are build output, not in git).
RUN pybabel compile -d referral/web/translations
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PORT'] + '/healthz', timeout=2)"]
ENTRYPOINT ["./boot.sh"]
