# Training Loop Lab for a classroom server, following Streamlit's Docker guidance.
#   docker build -t training-loop-lab .
#   docker run -p 8501:8501 -v /srv/mnist:/data -v tll-runs:/runs training-loop-lab
# Learners' runs are kept in /runs/runs.sqlite: keep that volume (back it up with
# `python -m core.store backup FILE`), or point TLL_DATABASE_URL at a PostgreSQL server.
# More than one machine (PostgreSQL, a Ray cluster, several replicas): deploy/compose.yaml.
FROM python:3.11-slim

WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

COPY requirements.txt requirements-ray.txt ./
RUN pip install --no-cache-dir -r requirements.txt
# WITH_RAY=1: the image also serves as a Ray head or worker (deploy/compose.yaml)
ARG WITH_RAY=0
RUN if [ "$WITH_RAY" = 1 ]; then pip install --no-cache-dir -r requirements-ray.txt; fi

COPY app.py ./
COPY pages ./pages
COPY ui ./ui
COPY core ./core
COPY .streamlit ./.streamlit

# rebuildable files (the default model) live here; mount a volume to keep them across restarts
ENV TLL_CACHE_DIR=/cache \
    TLL_DATA_DIR=/data \
    TLL_DATABASE_URL=sqlite:////runs/runs.sqlite
RUN mkdir -p /cache /data /runs && useradd --system --home /app lab && chown lab /cache /data /runs
USER lab

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s CMD curl --fail http://localhost:8501/_stcore/health || exit 1
ENTRYPOINT ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
