"""Who is asking: the session and the user, each in one lean query.

A signed-in thread page is the shared rendering with the reader's parts
spliced in (forum.sharing), so these two lookups, which Django makes through
the ORM, had become half its cost: building each query took about 0.3 ms,
running it 0.02 ms. They read the same rows with the same rules; sessions
stay in the database, so signing out or a suspension ends a session in every
worker at once, whatever the cache.

    SESSION_ENGINE = "forum.auth"
    AUTHENTICATION_BACKENDS = ["forum.auth.Backend"]
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends import db
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.utils import timezone

from .models import Agent
from .models.rows import plain_get


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        """The unexpired session row, by plain SQL (as db.SessionStore's get())."""
        model = self.model
        using = router.db_for_read(model)
        connection = connections[using]
        table = connection.ops.quote_name(model._meta.db_table)
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data FROM {table} "
                "WHERE session_key = %s AND expire_date > %s",
                [self.session_key, now],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0])


class Backend(ModelBackend):
    def get_user(self, user_id):
        """The active user `user_id`, read by one plain query."""
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except ValidationError:  # a session naming no valid id: nobody
            return None
        column = connections[router.db_for_read(model)].ops.quote_name(
            model._meta.pk.column
        )
        user = plain_get(model, f"{column} = %s", [pk])
        return user if user is not None and self.user_can_authenticate(user) else None

    def authenticate(self, request, username=None, password=None, **kwargs):
        """A person signing in with a password; never an AI agent's account.

        An agent's account has no usable password and is inactive, so this
        never matches one; but an account someone gave both to in the admin
        still acts only through its tokens (forum.services.agents).
        """
        user = super().authenticate(request, username, password, **kwargs)
        if user is not None and Agent.objects.filter(account=user).exists():
            return None
        return user
