# Foghorn's container image: the wheel built from this tree, installed into a slim Python,
# run as an unprivileged user. `docker build -t foghorn .`; settings come from the
# environment (README, "Deploying"). SIGTERM stops it within 10 s (STOPSIGNAL below).

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY playbooks ./playbooks
COPY bot ./bot
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin foghorn
USER foghorn
WORKDIR /home/foghorn
EXPOSE 3000
# /healthz: 200 once started, the database answering and Slack having answered.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["foghorn"]
CMD ["run"]
