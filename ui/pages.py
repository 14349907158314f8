"""The app's pages, in menu order: (script, title key, icon, what-it-shows key)."""
PAGES = [
    ("pages/home.py", "home.nav", ":material/home:", "home.nav_help"),
    ("pages/data.py", "data.nav", ":material/dataset:", "data.nav_help"),
]
