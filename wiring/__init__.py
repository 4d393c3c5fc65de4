"""The wiring above every app: the root URLconf imports each app's views and URLs, so it sits on top of the layers."""
