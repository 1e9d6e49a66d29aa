"""What a browser would submit from a page's forms, for tests that resend them."""

from collections import defaultdict
from html.parser import HTMLParser


class FormValues(HTMLParser):
    """What a browser would submit from the page's forms: name -> list of values."""

    def __init__(self):
        super().__init__()
        self.values = defaultdict(list)
        self._textarea = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.values[name].append(attrs.get("value") or "on")
            else:
                self.values[name].append(attrs.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name].append("")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select].append(attrs.get("value", ""))

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea:
            text = self.values[self._textarea][-1]
            self.values[self._textarea][-1] = text.removeprefix("\n")
            self._textarea = None
        elif tag == "select":
            self._select = None


def form_values(html: str) -> dict[str, list[str]]:
    """name -> the values a browser would send for the form(s) in `html`."""
    parser = FormValues()
    parser.feed(html)
    return dict(parser.values)
