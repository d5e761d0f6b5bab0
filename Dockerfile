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

EXPOSE 8000
CMD ["sh", "-c", "alembic upgrade head && exec uvicorn contacts_api.main:app --host 0.0.0.0 --port 8000"]
