"""The sandbox's one error type: a step that cannot go on, with a message for people."""


class SandboxError(RuntimeError):
    pass
