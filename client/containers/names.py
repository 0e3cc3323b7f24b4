"""Container IDs and names as Docker makes them.

IDs are 64 random hex digits whose 12-digit short form is never all digits
(Docker's rule: a short ID that parses as a number would be confused with
one in scripts).  Names are user-chosen or generated ``adjective_surname``
pairs after Docker's names-generator, with a digit appended when the plain
pair is taken.
"""

from __future__ import annotations

import os
import re

TYPE_CHECKING = False  # typing is not imported at run time: start-up time is budgeted
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

# Docker's rule for --name (daemon/names: RestrictedNameChars).
_VALID_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")

_ADJECTIVES = (
    "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome",
    "beautiful", "blissful", "bold", "boring", "brave", "busy", "charming", "clever",
    "compassionate", "competent", "condescending", "confident", "cool", "cranky", "crazy",
    "dazzling", "determined", "distracted", "dreamy", "eager", "ecstatic", "elastic",
    "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive", "flamboyant",
    "focused", "friendly", "frosty", "funny", "gallant", "gifted", "goofy", "gracious",
    "great", "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible", "inspiring",
    "intelligent", "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving",
    "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous", "nice",
    "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive",
    "practical", "priceless", "quirky", "quizzical", "recursing", "relaxed", "reverent",
    "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange", "stupefied",
    "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant",
    "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous",
    "zen",
)

# Scientists and engineers, as in Docker's list.
_SURNAMES = (
    "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata",
    "austin", "babbage", "banach", "bardeen", "bartik", "bassi", "bell", "benz", "bhabha",
    "bhaskara", "blackwell", "bohr", "booth", "borg", "bose", "boyd", "brahmagupta",
    "brattain", "brown", "buck", "burnell", "cannon", "carson", "cartwright", "cerf",
    "chandrasekhar", "chaplygin", "chatelet", "chatterjee", "chebyshev", "clarke", "cohen",
    "colden", "cori", "cray", "curie", "darwin", "davinci", "dijkstra", "dubinsky", "easley",
    "edison", "einstein", "elion", "engelbart", "euclid", "euler", "faraday", "feistel",
    "fermat", "fermi", "feynman", "franklin", "galileo", "gates", "goldberg", "goldstine",
    "goldwasser", "golick", "goodall", "gould", "greider", "grothendieck", "haibt",
    "hamilton", "hawking", "heisenberg", "hellman", "hermann", "herschel", "hertz",
    "heyrovsky", "hodgkin", "hofstadter", "hoover", "hopper", "hugle", "hypatia", "jackson",
    "jang", "jennings", "jepsen", "johnson", "joliot", "jones", "kalam", "kapitsa", "kare",
    "keldysh", "keller", "kepler", "khorana", "kilby", "kirch", "knuth", "kowalevski",
    "lalande", "lamarr", "lamport", "leakey", "leavitt", "lederberg", "lehmann", "lewin",
    "lichterman", "liskov", "lovelace", "lumiere", "mahavira", "margulis", "matsumoto",
    "maxwell", "mayer", "mccarthy", "mcclintock", "mclean", "mcnulty", "meitner", "mendel",
    "mendeleev", "meninsky", "merkle", "mestorf", "mirzakhani", "montalcini", "moore",
    "morse", "moser", "murdock", "napier", "nash", "neumann", "newton", "nightingale",
    "nobel", "noether", "northcutt", "noyce", "panini", "pare", "pascal", "pasteur",
    "payne", "perlman", "pike", "poincare", "poitras", "proskuriakova", "ptolemy", "raman",
    "ramanujan", "rhodes", "ride", "ritchie", "robinson", "roentgen", "rosalind", "rubin",
    "saha", "sammet", "sanderson", "satoshi", "shamir", "shannon", "shaw", "shirley",
    "shockley", "shtern", "sinoussi", "snyder", "solomon", "spence", "stonebraker",
    "sutherland", "swanson", "swartz", "swirles", "taussig", "tesla", "tharp", "thompson",
    "torvalds", "tu", "turing", "varahamihira", "vaughan", "villani", "visvesvaraya",
    "volhard", "wescoff", "wilbur", "wiles", "williams", "williamson", "wilson", "wing",
    "wozniak", "wright", "wu", "yalow", "yonath", "zhukovsky",
)


def new_id() -> str:
    """A fresh container ID: 64 hex digits, the first 12 not all decimal digits."""
    while True:
        candidate = os.urandom(32).hex()
        if not candidate[:12].isdigit():
            return candidate


def check_name(name: str) -> str:
    """A --name as Docker accepts it (a leading "/" is Docker's internal spelling)."""
    bare = name[1:] if name.startswith("/") else name
    if not _VALID_NAME.fullmatch(bare):
        from client.errors import DockyardError
        raise DockyardError(f'Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] '
                            'are allowed')
    return bare


def _pick(items: Sequence[str] | range):
    """A random element, from os.urandom: the random module's import costs a millisecond
    of every `dockyard run`."""
    return items[int.from_bytes(os.urandom(4), "little") % len(items)]


def generate_name(taken: Callable[[str], bool]) -> str:
    """A free ``adjective_surname`` name (Docker's generator, which never says boring_wozniak)."""
    for attempt in range(100):
        name = f"{_pick(_ADJECTIVES)}_{_pick(_SURNAMES)}"
        if name == "boring_wozniak":
            continue
        if attempt >= 10:  # the plain pairs are crowded: add a digit, as Docker does on retries
            name += str(_pick(range(10)))
        if not taken(name):
            return name
    return f"container_{new_id()[:12]}"
