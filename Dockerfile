# The hotline's one image: web (`hotline serve`), worker (`hotline worker`) and
# migrations (`hotline db upgrade`) are the same image with another command
# (see compose.yaml). Build: docker build -t hotline .

# Build stage: install into a virtualenv, so the runtime stage copies one folder
# and carries no pip cache or build files.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/hotline
COPY pyproject.toml README.md ./
COPY hotline ./hotline
COPY callcenter_ui ./callcenter_ui
RUN /opt/hotline/bin/pip install --no-cache-dir ".[postgres]"

FROM python:3.11-slim
# A fixed uid, so file ownership on volumes is the same in every container and on rebuilds.
RUN useradd --system --no-log-init --uid 10001 --user-group \
        --home-dir /var/lib/hotline --create-home --shell /usr/sbin/nologin hotline
COPY --from=build /opt/hotline /opt/hotline
# The package is installed, not editable: the config file and the menus live in /app.
# A town mounts its own config.toml and ivr_flows/ over these (compose.yaml does).
WORKDIR /app
COPY config.toml ./
COPY ivr_flows ./ivr_flows
ENV PATH=/opt/hotline/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOTLINE_CONFIG=/app/config.toml \
    HOTLINE_INSTANCE_PATH=/var/lib/hotline \
    HOTLINE_MODE=production
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
# python:slim has no curl; the standard library asks /health. Worker and migrate
# containers of this image turn it off (compose.yaml): they serve no HTTP.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
ENTRYPOINT ["hotline"]
CMD ["serve", "--bind", "0.0.0.0:8000", "--workers", "2"]
