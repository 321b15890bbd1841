# One image for web and worker; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmagic1 ffmpeg \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN useradd --create-home --uid 1000 app && mkdir -p /app/var && chown app /app/var
USER app

EXPOSE 8000
CMD ["gunicorn", "project.wsgi", "-c", "project/gunicorn_conf.py", "--bind", "0.0.0.0:8000"]
