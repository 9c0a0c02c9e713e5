"""The one exception type for problems a user can cause and fix."""


class FewShotError(Exception):
    """A user-fixable problem: the message says what went wrong and what to do next.

    The CLI prints it without a traceback; the app shows it with ``st.error``.
    """
