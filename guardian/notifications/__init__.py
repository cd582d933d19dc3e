"""Guardian speaks first (docs/notifications.md): the outbox of notifications the events
make, and the dispatcher that sends them by e-mail, to the in-app inbox, to signed webhooks
and as printable letters, once per recipient and channel.

- `kinds.py`: what is told, to whom, from which event (a pure rule);
- `recipients.py`: who, by which channel, and when (quiet hours);
- `outbox.py`: the projector from events to rows; `schema.py`: the tables;
- `dispatcher.py` and `checks.py`: sending what is due, checked again when sent;
- `compose.py`, `render.py`, `templates/`: the messages; `channels/`: how they go;
- `digests.py`: the coordinators' daily summary and the practices' weekly digest;
- `threads.py`, `mail.py`: replies to thread messages taken in by e-mail.
"""
