"""The extension objects, bound to no app: ``create_app`` binds them. (The flask-smorest ``Api`` is the HTTP
layer's: ``http/openapi.py``.)"""

from flask_babel import Babel
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so that migrations can alter them on every database (SQLite included).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
# Keyed by client IP; behind TRUSTED_PROXIES hops, ProxyFix has already put the real one in remote_addr.
limiter = Limiter(key_func=get_remote_address)
babel = Babel()

# The keys under which the app keeps objects of its own in ``app.extensions``, each named for what it holds.
READ_POOL = "referral.read_pool"  # infra/sql.py: the hot reads' psycopg pool
SMS_DISPATCHER = "referral.sms"  # infra/sms: how codes reach a sender
WEBHOOK_DELIVERY = "referral.webhooks"  # infra/webhooks.py: the delivery loop of this process
VERIFIED_TOKENS = "referral.verified_tokens"  # http/bearer.py: the verified access tokens kept
csrf = CSRFProtect()  # the pages' forms (web/); WTF_CSRF_CHECK_DEFAULT is off, so the API is not touched
