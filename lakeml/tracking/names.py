"""Readable generated run names such as ``brave-owl-417``."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "able", "bold", "brave", "bright", "calm", "clever", "crisp", "daring", "eager", "fair",
    "fast", "fierce", "gentle", "glad", "grand", "happy", "keen", "kind", "lively", "lucky",
    "merry", "mighty", "neat", "noble", "proud", "quick", "quiet", "rare", "sharp", "shy",
    "smart", "solid", "steady", "swift", "tidy", "vivid", "warm", "wise", "witty", "zesty",
)
_NOUNS = (
    "ant", "bass", "bear", "bee", "crane", "crow", "deer", "dove", "duck", "eel", "elk",
    "finch", "fox", "frog", "goat", "hare", "hawk", "heron", "horse", "ibis", "jay", "koala",
    "lark", "lynx", "mole", "moth", "newt", "otter", "owl", "panda", "quail", "ram", "robin",
    "seal", "shark", "snail", "swan", "tiger", "toad", "trout", "vole", "whale", "wolf", "yak",
)


def generate_run_name() -> str:
    """An adjective, a noun and a number: easy to say, unlikely to repeat."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(0, 999)}"
