"""The app's pages, in menu order: (script, title key, icon, what-it-shows key)."""
PAGES = [
    ("pages/home.py", "home.nav", ":material/home:", "home.nav_help"),
    ("pages/data.py", "data.nav", ":material/dataset:", "data.nav_help"),
    ("pages/lab.py", "lab.nav", ":material/model_training:", "lab.nav_help"),
    ("pages/graph.py", "graph.nav", ":material/account_tree:", "graph.nav_help"),
    ("pages/results.py", "results.nav", ":material/fact_check:", "results.nav_help"),
    ("pages/draw.py", "draw.nav", ":material/draw:", "draw.nav_help"),
    ("pages/noise.py", "noise.nav", ":material/scatter_plot:", "noise.nav_help"),
    ("pages/class.py", "class.nav", ":material/groups:", "class.nav_help"),
]
