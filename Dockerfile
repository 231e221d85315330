# mockforge in a container: `docker build -t mockforge .` from the repository root.
# Used by deploy/compose.yaml and, pushed to your registry, by deploy/kubernetes/.
FROM python:3.11-slim

WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . \
    && rm -rf /build \
    && useradd --system --uid 10001 --home-dir /srv/mockforge --create-home mockforge

# The working directory holds core.cache_dir (.mockforge-cache: compiled protos, the local CA).
WORKDIR /srv/mockforge
USER 10001
EXPOSE 3000 9090
ENTRYPOINT ["mockforge"]
CMD ["serve", "--host", "0.0.0.0", "--config", "/etc/mockforge/mockforge.yaml"]
