FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# Static files for the admin, served by WhiteNoise from the image (no CDN, no extra server).
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

RUN useradd --create-home --uid 1000 leadcrm
USER leadcrm

EXPOSE 8000
# Bind address, workers and the access log (which leaves out credentials): gunicorn.conf.py
CMD ["gunicorn", "leadcrm.wsgi"]
