"""Numbers a server admin sets through environment variables (README lists every TLL_ setting)."""
import logging
import os


def env_number(name: str, default: float, minimum: float, kind: type = int):
    """`name` read as a `kind` (int or float) no smaller than `minimum`; unset gives `default`.

    A value that is not such a number (a typo in a unit file: "two", "30s") also gives the default,
    with a line in the server log: the class goes on rather than every page failing.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        logging.getLogger(__name__).warning("%s=%r is not a number >= %s; using %s", name, text, minimum, default)
        return default
    return value
