"""`journey dev`: the whole stack in the foreground on embedded defaults."""
