"""What gunicorn and ``flask --app wsgi`` load."""

from service import create_app
from service.startup import refusal_exits

# A bad setting or an unusable keyring ends the process with one line, not a traceback.
with refusal_exits():
    app = create_app()
