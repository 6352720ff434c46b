"""Browser tests: the app in Debian's chromium through Playwright."""
