FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY ticketsvc ticketsvc
COPY mock_api mock_api
COPY wsgi.py gunicorn.conf.py ./
RUN useradd --system --uid 10001 app && mkdir -p /tmp/metrics && chown app /tmp/metrics
USER app
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
