"""Marshmallow schemas: request and response bodies, the error body, definition files."""
