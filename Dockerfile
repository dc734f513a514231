# Bulkyard image: one image for every process (ASGI web, Celery workers, beat,
# one-shot migrate); docker-compose.yaml picks the command per service.
#
#   docker build -t bulkyard .                           # the app
#   docker build -t bulkyard-flower --build-arg WITH_FLOWER=1 .   # plus Flower
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.base \
    BULKYARD_VAR_DIR=/app/var \
    DJANGO_STATIC_ROOT=/app/static \
    DJANGO_MEDIA_ROOT=/app/var/media

# A font for image.process's watermarks (pango finds it through fontconfig);
# the slim image has none. libvips itself comes in the pyvips-binary wheel.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# Unprivileged user the processes run as. It owns only /app/var (uploads,
# outputs, and the SQLite/file-broker fallbacks); the code stays root-owned.
RUN groupadd --system --gid 10001 bulkyard \
    && useradd --system --uid 10001 --gid bulkyard --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin bulkyard

WORKDIR /app

# Runtime dependencies first, read from pyproject.toml alone, so that a code
# change does not reinstall them (this layer is cached until pyproject changes).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project itself (no dev extras), then the static files (admin, DRF,
# Swagger UI) collected into /app/static, which WhiteNoise serves.
# collectstatic needs no database: with DATABASE_URL unset the settings fall
# back to SQLite under BULKYARD_VAR_DIR, pointed at a throw-away folder here so
# nothing of it is left in the image; nor the key the settings need, made there
# too. The image holds no key: a container refuses to start without
# DJANGO_SECRET_KEY.
COPY . .
RUN pip install . \
    && rm -rf build ./*.egg-info \
    && BULKYARD_VAR_DIR=/tmp/bulkyard-build python -m config.secret_key \
    && DJANGO_STATIC_ROOT=/app/static BULKYARD_VAR_DIR=/tmp/bulkyard-build \
        python manage.py collectstatic --noinput \
    && rm -rf /tmp/bulkyard-build \
    && mkdir -p /app/var/media \
    && chown -R bulkyard:bulkyard /app/var

# Flower is a dev extra in pyproject.toml; the flower service builds this image
# with WITH_FLOWER=1. Declared this late so every layer above is shared with
# the plain image.
ARG WITH_FLOWER=0
RUN if [ "$WITH_FLOWER" = "1" ]; then pip install 'flower>=2,<3'; fi

USER 10001:10001

EXPOSE 8000
ENV BULKYARD_HOST=0.0.0.0
CMD ["python", "-m", "config.web"]
