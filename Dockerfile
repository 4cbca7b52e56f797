# One image for the API, the Flower SuperLink (which runs our ServerApp) and the SuperNodes
# (which run our ClientApp). CPU-only torch, pinned before the project so no resolver pulls CUDA.
FROM python:3.11-slim
WORKDIR /app
# WeasyPrint (PDF reports) lays out with Pango; a CJK font renders the Chinese labels.
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 \
    libpangoft2-1.0-0 fonts-wqy-zenhei && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md alembic.ini constraints.txt ./
COPY federation federation
COPY privacy privacy
COPY compliance compliance
COPY api api
COPY migrations migrations
COPY policies policies
RUN pip install --no-cache-dir -c constraints.txt -e .
ENV COMITY_POLICY_DIR=/app/policies
