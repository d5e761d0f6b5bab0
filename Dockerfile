# The api service of docker-compose.yml: migrate, then serve.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt pyproject.toml alembic.ini ./
COPY alembic alembic
COPY contacts_api contacts_api
RUN pip install -r requirements.txt

# The data folder holds the generated secret key when SECRET_KEY is not set.
RUN useradd --system --no-create-home app && mkdir data && chown app data
USER app

# `python -m contacts_api` migrates, then serves with its bounds on slow and idle
# connections (HEADER_TIMEOUT_SECONDS, BODY_TIMEOUT_SECONDS, MAX_CONNECTIONS).
ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000
CMD ["python", "-m", "contacts_api"]
