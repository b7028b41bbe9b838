"""Tools that keep services on the golden path: the template's own command-line helpers."""
