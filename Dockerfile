# syntax=docker/dockerfile:1
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PSAM_INSTANCE_DIR=/var/lib/psam \
    PSAM_KEYRING=/run/secrets/psam-keyring \
    PSAM_BIND=0.0.0.0:8000 \
    FLASK_APP=wsgi

RUN groupadd --system --gid 10001 psam \
    && useradd --system --uid 10001 --gid psam --home-dir /app --shell /usr/sbin/nologin psam \
    && mkdir -p /var/lib/psam && chown psam:psam /var/lib/psam && chmod 0700 /var/lib/psam

WORKDIR /app
# Dependencies first, pinned by constraints.txt, so code changes reuse this layer. The
# project is installed editable: it runs from /app, next to its migrations and instruments.
COPY pyproject.toml constraints.txt ./
COPY service/__init__.py service/__init__.py
COPY schemas/__init__.py schemas/__init__.py
RUN pip install -c constraints.txt -e .

COPY service service
COPY schemas schemas
COPY instruments instruments
COPY letters letters
COPY migrations migrations
COPY wsgi.py gunicorn.conf.py ./
COPY bin bin
# The participant pages' message catalogues are compiled here, as `make` does at install.
RUN pybabel -q compile -d service/web/translations

USER 10001:10001
EXPOSE 8000
# Ready, not merely alive: /readyz checks the keyring, the database, its migrations and the
# catalogue (urlopen raises on a 503, which fails the check).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]

# Check the settings and the keyring (refusing to start without one), migrate, publish any
# new instrument versions, then serve: bin/psam-start is the one place this sequence lives.
# The keyring is a secret mounted at /run/secrets/psam-keyring, or PSAM_KEYRING_JSON; never
# on the /var/lib/psam data volume. DATABASE_URL defaults to SQLite in that volume.
CMD ["/app/bin/psam-start"]
