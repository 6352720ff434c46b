# Hermes Playground image, following Hugging Face's Docker-Space convention
# (https://huggingface.co/docs/hub/spaces-sdks-docker): Spaces run the container as uid 1000,
# so everything the app writes lives in that user's home.
FROM python:3.11-slim

RUN useradd -m -u 1000 user
USER user
ENV HOME=/home/user \
    PATH=/home/user/.local/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860
# The store lives in a directory the user owns, not beside the code (the app may run from a read-only copy).
ENV DATABASE_URL=sqlite:///$HOME/data/playground.db

WORKDIR $HOME/app
COPY --chown=user requirements.txt ./
RUN pip install --no-cache-dir --user -r requirements.txt
COPY --chown=user app.py ./
COPY --chown=user playground ./playground
COPY --chown=user assets ./assets

EXPOSE 7860
CMD ["python", "app.py"]
