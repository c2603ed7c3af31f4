# The govops validator image: one validation check per Argo step.
#   python -m runners CHECK --spec FILE --model ID --version V [--champion V] --thresholds JSON --out FILE
# Argo clones the repository at the PR's head commit into /work/repo (a git input artifact) and
# runs the container there. Image name/tag is configuration: GOVOPS_VALIDATOR_IMAGE
# (default ghcr.io/govops/validator:0.1.0). Build: docker build -t ghcr.io/govops/validator:0.1.0 .
# Every Python package is pinned by docker/constraints.txt (the versions tested with govops).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CONSTRAINT=/opt/govops/constraints.txt

WORKDIR /opt/govops
COPY docker/constraints.txt ./constraints.txt
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY runners ./runners
RUN python -m pip install --no-compile . \
    && cd / && rm -rf /opt/govops/engine /opt/govops/runners /opt/govops/pyproject.toml

RUN groupadd --system --gid 10001 govops \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin govops \
    && mkdir -p /work/repo \
    && chown 10001:10001 /work/repo

USER 10001:10001
WORKDIR /work/repo
ENTRYPOINT ["python", "-I", "-m", "runners"]
