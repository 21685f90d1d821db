"""Who works at the library: the staff accounts the seed creates and the simulated librarians use.
Plain Python, shared by the site (Django's virtualenv) and the harness's simulator."""

CATALOGUE = ("asha.kumar", "ben.ortiz", "chloe.martin", "dmitri.ivanov", "elena.rossi", "femi.adeyemi")
FRONT_DESK = ("grace.lee", "hugo.lambert", "ines.moreau", "jonas.berg", "kira.tanaka", "liam.walsh")
TESTER = "replay.tester"  # the test account a user of Trodden gives replay (both groups)


def password(username: str) -> str:
    return f"{username.replace('.', '-')}-Lib-2026!"
