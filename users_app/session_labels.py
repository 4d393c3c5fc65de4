"""The name a session (an access token) gets in the account's list: "Chrome on Linux", "Android app"."""

import re

# First match wins: Edge and Opera also say Chrome, Chrome also says Safari.
BROWSERS = [
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("HeadlessChrome/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
]
SYSTEMS = [
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
]
APPS = {"android": "Android app", "ios": "iOS app"}
PRODUCT = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,31}")
MAX_LENGTH = 64


def session_label(user_agent, platform=""):
    """A browser and its system from the User-Agent; else the app's platform; else the client's product name."""
    user_agent = user_agent or ""
    browser = next((name for marker, name in BROWSERS if marker in user_agent), None)
    system = next((name for marker, name in SYSTEMS if marker in user_agent), None)
    if browser:
        return f"{browser} on {system}" if system else browser
    if platform in APPS:
        return APPS[platform]
    product = PRODUCT.match(user_agent.strip())
    return product.group()[:MAX_LENGTH] if product else ""
