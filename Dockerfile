# syntax=docker/dockerfile:1
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PSAM_INSTANCE_DIR=/var/lib/psam

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
COPY migrations migrations
COPY wsgi.py gunicorn.conf.py ./

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

# Migrate, publish any new instrument versions, then serve. DATABASE_URL and PSAM_KEYRING
# come from the environment; the embedded SQLite default lives in the /var/lib/psam volume.
CMD ["sh", "-c", "flask --app wsgi db upgrade && flask --app wsgi instruments sync && exec gunicorn --config gunicorn.conf.py --bind 0.0.0.0:8000 wsgi:app"]
