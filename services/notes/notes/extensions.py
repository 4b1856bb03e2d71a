"""Flask extensions of the notes service, created unbound; ``create_app`` binds them."""

from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
