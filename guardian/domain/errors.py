"""Domain errors: each names what is wrong in words a coordinator or data manager understands."""


class DomainError(Exception):
    """A command was refused because it breaks a rule of the service."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidValue(DomainError):
    """A value has the wrong shape (a bad NHS number, an unknown code, an impossible date)."""


class UnknownPathway(DomainError):
    """The pathway is not one of this patient's pathways."""


class PathwayNotOpen(DomainError):
    """The command needs a pathway whose clock is running, but it has stopped or closed."""


class ConflictingCommand(DomainError):
    """A command reuses an identifier for something different from what it recorded before."""
