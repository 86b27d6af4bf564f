"""Code: write a Python function from its signature and docstring; hidden tests decide.

The prompt is the signature and docstring, e.g.::

    def running_max(xs: list) -> list:
        \"\"\"The largest of xs[0..i] for every i.\"\"\"

and the answer tag holds the whole function (a Markdown code fence inside the tag is allowed)::

    <answer>def running_max(xs):
        out, m = [], None
        ...
    </answer>

The verifier runs the code in ``rlvr.sandbox`` (a separate process with CPU, memory, file-size and
process limits, an empty working directory, no network, a wall-clock kill and capped output), calls
the function on each test's arguments there, and compares the returned values with the expected ones
outside the sandbox. The verdict's ``info["score"]`` is the share of tests passed (the ``partial``
reward); ``correct`` means every test passed. Code that does not parse, or defines no function of the
right name, is judged without starting a process.

The task ships a few dozen problems; ``path`` names a JSONL file of others, one problem a line with
``name``, ``signature`` and ``tests`` (a list of [arguments, expected value]) and optionally ``doc``,
``difficulty`` and ``solution``. A problem's split is a hash of its name, as in every task.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from ..sandbox import SandboxLimits
from .base import Problem, Verdict, check_split, split_of
from .code_grader import MAX_CODE_CHARS, code_key, extract_code, grade

# (name, signature, docstring, difficulty, reference solution, tests as (arguments, expected))
PROBLEMS = [
    ("add", "def add(a: int, b: int) -> int:", "The sum of a and b.", 1,
     "def add(a, b):\n    return a + b\n",
     [((1, 2), 3), ((-5, 5), 0), ((10**20, 1), 10**20 + 1), ((0, 0), 0)]),
    ("absolute", "def absolute(x: int) -> int:", "The absolute value of x, without abs().", 1,
     "def absolute(x):\n    return x if x >= 0 else -x\n",
     [((3,), 3), ((-3,), 3), ((0,), 0), ((-10**12,), 10**12)]),
    ("is_even", "def is_even(n: int) -> bool:", "Whether n is even.", 1,
     "def is_even(n):\n    return n % 2 == 0\n",
     [((2,), True), ((7,), False), ((0,), True), ((-3,), False)]),
    ("reverse_string", "def reverse_string(s: str) -> str:", "s backwards.", 1,
     "def reverse_string(s):\n    return s[::-1]\n",
     [(("abc",), "cba"), (("",), ""), (("racecar",), "racecar"), (("ab c",), "c ba")]),
    ("count_vowels", "def count_vowels(s: str) -> int:", "How many of the letters a, e, i, o, u (either case) s holds.", 1,
     "def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)\n",
     [(("hello",), 2), (("",), 0), (("AEIOUxyz",), 5), (("rhythm",), 0)]),
    ("max_of_list", "def max_of_list(xs: list) -> int:", "The largest element of a non-empty list, without max().", 1,
     "def max_of_list(xs):\n    m = xs[0]\n    for x in xs:\n        if x > m:\n            m = x\n    return m\n",
     [(([1, 5, 3],), 5), (([-2, -7],), -2), (([4],), 4), (([0, 0, 1, 0],), 1)]),
    ("square_all", "def square_all(xs: list) -> list:", "The squares of the elements, in order.", 1,
     "def square_all(xs):\n    return [x * x for x in xs]\n",
     [(([1, 2, 3],), [1, 4, 9]), (([],), []), (([-4],), [16])]),
    ("last_digit", "def last_digit(n: int) -> int:", "The last decimal digit of n (of its absolute value when negative).", 1,
     "def last_digit(n):\n    return abs(n) % 10\n",
     [((123,), 3), ((-47,), 7), ((0,), 0), ((10**30 + 9,), 9)]),
    ("is_palindrome", "def is_palindrome(s: str) -> bool:", "Whether s reads the same backwards.", 1,
     "def is_palindrome(s):\n    return s == s[::-1]\n",
     [(("level",), True), (("ab",), False), (("",), True), (("abca",), False)]),
    ("sum_digits", "def sum_digits(n: int) -> int:", "The sum of the decimal digits of n >= 0.", 1,
     "def sum_digits(n):\n    return sum(int(c) for c in str(n))\n",
     [((0,), 0), ((1234,), 10), ((999,), 27), ((10**18,), 1)]),
    ("factorial", "def factorial(n: int) -> int:", "n! for n >= 0.", 2,
     "def factorial(n):\n    out = 1\n    for k in range(2, n + 1):\n        out *= k\n    return out\n",
     [((0,), 1), ((5,), 120), ((10,), 3628800), ((20,), 2432902008176640000)]),
    ("fibonacci", "def fibonacci(n: int) -> int:", "The n-th Fibonacci number, with fibonacci(0) = 0 and fibonacci(1) = 1.", 2,
     "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
     [((0,), 0), ((1,), 1), ((10,), 55), ((90,), 2880067194370816120)]),
    ("gcd", "def gcd(a: int, b: int) -> int:", "The greatest common divisor of a, b >= 0 (gcd(0, 0) = 0), without math.gcd.", 2,
     "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n",
     [((12, 18), 6), ((7, 0), 7), ((0, 0), 0), ((17, 5), 1)]),
    ("is_prime", "def is_prime(n: int) -> bool:", "Whether n is a prime number.", 2,
     "def is_prime(n):\n    if n < 2:\n        return False\n    k = 2\n    while k * k <= n:\n        if n % k == 0:\n            return False\n        k += 1\n    return True\n",
     [((1,), False), ((2,), True), ((91,), False), ((97,), True), ((7919,), True), ((-7,), False)]),
    ("running_max", "def running_max(xs: list) -> list:", "The largest of xs[0..i] for every i.", 2,
     "def running_max(xs):\n    out = []\n    for x in xs:\n        out.append(x if not out or x > out[-1] else out[-1])\n    return out\n",
     [(([1, 3, 2, 5],), [1, 3, 3, 5]), (([],), []), (([5, 4, 3],), [5, 5, 5])]),
    ("count_words", "def count_words(s: str) -> dict:", "How often each whitespace-separated word occurs in s.", 2,
     "def count_words(s):\n    out = {}\n    for w in s.split():\n        out[w] = out.get(w, 0) + 1\n    return out\n",
     [(("a b a",), {"a": 2, "b": 1}), (("",), {}), (("x  x\nx",), {"x": 3})]),
    ("flatten", "def flatten(xss: list) -> list:", "The elements of a list of lists, in order.", 2,
     "def flatten(xss):\n    return [x for xs in xss for x in xs]\n",
     [(([[1, 2], [3], []],), [1, 2, 3]), (([],), []), (([[4], [5, 6]],), [4, 5, 6])]),
    ("dedupe", "def dedupe(xs: list) -> list:", "xs without repeated elements, keeping first occurrences in order.", 2,
     "def dedupe(xs):\n    seen, out = set(), []\n    for x in xs:\n        if x not in seen:\n            seen.add(x)\n            out.append(x)\n    return out\n",
     [(([3, 1, 3, 2, 1],), [3, 1, 2]), (([],), []), ((["a", "a"],), ["a"])]),
    ("binary", "def binary(n: int) -> str:", "The binary digits of n >= 0, without bin() or format().", 2,
     "def binary(n):\n    if n == 0:\n        return '0'\n    out = ''\n    while n:\n        out = str(n % 2) + out\n        n //= 2\n    return out\n",
     [((0,), "0"), ((5,), "101"), ((255,), "11111111"), ((1024,), "10000000000")]),
    ("caesar", "def caesar(s: str, k: int) -> str:", "s with each lowercase letter shifted k places along the alphabet (wrapping); other characters unchanged.", 2,
     "def caesar(s, k):\n    return ''.join(chr((ord(c) - 97 + k) % 26 + 97) if 'a' <= c <= 'z' else c for c in s)\n",
     [(("abc", 1), "bcd"), (("xyz", 3), "abc"), (("a-b!", 27), "b-c!"), (("hi", -1), "gh")]),
    ("pairs_sum", "def pairs_sum(xs: list, t: int) -> int:", "How many index pairs i < j have xs[i] + xs[j] == t.", 2,
     "def pairs_sum(xs, t):\n    return sum(1 for i in range(len(xs)) for j in range(i + 1, len(xs)) if xs[i] + xs[j] == t)\n",
     [(([1, 2, 3, 4], 5), 2), (([], 0), 0), (([2, 2, 2], 4), 3)]),
    ("transpose", "def transpose(m: list) -> list:", "The transpose of a rectangular matrix given as a list of rows.", 2,
     "def transpose(m):\n    return [list(r) for r in zip(*m)]\n",
     [(([[1, 2], [3, 4]],), [[1, 3], [2, 4]]), (([[1, 2, 3]],), [[1], [2], [3]]), (([],), [])]),
    ("char_histogram", "def char_histogram(s: str) -> list:", "(character, count) pairs of s sorted by character.", 2,
     "def char_histogram(s):\n    return sorted((c, s.count(c)) for c in set(s))\n",
     [(("banana",), [("a", 3), ("b", 1), ("n", 2)]), (("",), []), (("zz",), [("z", 2)])]),
    ("mean", "def mean(xs: list) -> float:", "The arithmetic mean of a non-empty list of numbers.", 1,
     "def mean(xs):\n    return sum(xs) / len(xs)\n",
     [(([1, 2, 3, 4],), 2.5), (([7],), 7.0), (([0.1, 0.2],), 0.15000000000000002)]),
    ("roman", "def roman(n: int) -> str:", "n (1 to 3999) in Roman numerals.", 3,
     "def roman(n):\n    vals = [(1000, 'M'), (900, 'CM'), (500, 'D'), (400, 'CD'), (100, 'C'), (90, 'XC'), (50, 'L'),\n            (40, 'XL'), (10, 'X'), (9, 'IX'), (5, 'V'), (4, 'IV'), (1, 'I')]\n    out = ''\n    for v, r in vals:\n        while n >= v:\n            out += r\n            n -= v\n    return out\n",
     [((1,), "I"), ((4,), "IV"), ((1994,), "MCMXCIV"), ((3999,), "MMMCMXCIX")]),
    ("balanced", "def balanced(s: str) -> bool:", "Whether the brackets ()[]{} in s are balanced and properly nested.", 3,
     "def balanced(s):\n    pairs, stack = {')': '(', ']': '[', '}': '{'}, []\n    for c in s:\n        if c in '([{':\n            stack.append(c)\n        elif c in pairs:\n            if not stack or stack.pop() != pairs[c]:\n                return False\n    return not stack\n",
     [(("([]{})",), True), (("(]",), False), (("",), True), (("((",), False), (("a(b)c",), True)]),
    ("merge_sorted", "def merge_sorted(a: list, b: list) -> list:", "One sorted list of the elements of two sorted lists.", 3,
     "def merge_sorted(a, b):\n    i = j = 0\n    out = []\n    while i < len(a) and j < len(b):\n        if a[i] <= b[j]:\n            out.append(a[i]); i += 1\n        else:\n            out.append(b[j]); j += 1\n    return out + a[i:] + b[j:]\n",
     [(([1, 4], [2, 3]), [1, 2, 3, 4]), (([], [1]), [1]), (([1, 1], [1]), [1, 1, 1])]),
    ("binary_search", "def binary_search(xs: list, x: int) -> int:", "The index of x in the sorted list xs, or -1 when it is absent.", 3,
     "def binary_search(xs, x):\n    lo, hi = 0, len(xs) - 1\n    while lo <= hi:\n        mid = (lo + hi) // 2\n        if xs[mid] == x:\n            return mid\n        if xs[mid] < x:\n            lo = mid + 1\n        else:\n            hi = mid - 1\n    return -1\n",
     [(([1, 3, 5, 7], 5), 2), (([1, 3, 5, 7], 4), -1), (([], 1), -1), (([2], 2), 0)]),
    ("primes_below", "def primes_below(n: int) -> list:", "The primes smaller than n, in order.", 3,
     "def primes_below(n):\n    sieve = [True] * max(n, 0)\n    out = []\n    for k in range(2, n):\n        if sieve[k]:\n            out.append(k)\n            for m in range(k * k, n, k):\n                sieve[m] = False\n    return out\n",
     [((10,), [2, 3, 5, 7]), ((2,), []), ((30,), [2, 3, 5, 7, 11, 13, 17, 19, 23, 29])]),
    ("rle", "def rle(s: str) -> list:", "Run-length encoding: (character, run length) pairs in order.", 3,
     "def rle(s):\n    out = []\n    for c in s:\n        if out and out[-1][0] == c:\n            out[-1] = (c, out[-1][1] + 1)\n        else:\n            out.append((c, 1))\n    return out\n",
     [(("aaabcc",), [("a", 3), ("b", 1), ("c", 2)]), (("",), []), (("x",), [("x", 1)])]),
    ("lcs_length", "def lcs_length(a: str, b: str) -> int:", "The length of the longest common subsequence of a and b.", 3,
     "def lcs_length(a, b):\n    prev = [0] * (len(b) + 1)\n    for x in a:\n        cur = [0]\n        for j, y in enumerate(b):\n            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))\n        prev = cur\n    return prev[-1]\n",
     [(("abcde", "ace"), 3), (("abc", "def"), 0), (("", "a"), 0), (("aaaa", "aa"), 2)]),
    ("anagrams", "def anagrams(a: str, b: str) -> bool:", "Whether a and b hold the same letters with the same counts.", 2,
     "def anagrams(a, b):\n    return sorted(a) == sorted(b)\n",
     [(("listen", "silent"), True), (("ab", "abb"), False), (("", ""), True)]),
    ("second_largest", "def second_largest(xs: list) -> int:", "The second largest distinct value of xs, or None when there is none.", 2,
     "def second_largest(xs):\n    vals = sorted(set(xs))\n    return vals[-2] if len(vals) > 1 else None\n",
     [(([3, 1, 4, 4],), 3), (([5, 5],), None), (([],), None), (([-1, -2],), -2)]),
    ("collatz_steps", "def collatz_steps(n: int) -> int:", "Steps of the Collatz map (n/2 if even, 3n+1 if odd) from n >= 1 to 1.", 2,
     "def collatz_steps(n):\n    k = 0\n    while n != 1:\n        n = n // 2 if n % 2 == 0 else 3 * n + 1\n        k += 1\n    return k\n",
     [((1,), 0), ((6,), 8), ((27,), 111)]),
    ("matrix_multiply", "def matrix_multiply(a: list, b: list) -> list:", "The product of two matrices given as lists of rows.", 3,
     "def matrix_multiply(a, b):\n    return [[sum(x * y for x, y in zip(r, c)) for c in zip(*b)] for r in a]\n",
     [(([[1, 2], [3, 4]], [[5], [6]]), [[17], [39]]), (([[1]], [[2]]), [[2]]), (([[1, 0], [0, 1]], [[4, 5], [6, 7]]), [[4, 5], [6, 7]])]),
    ("word_lengths", "def word_lengths(s: str) -> tuple:", "The lengths of the whitespace-separated words of s, as a tuple.", 1,
     "def word_lengths(s):\n    return tuple(len(w) for w in s.split())\n",
     [(("a bb ccc",), (1, 2, 3)), (("",), ()), (("  hi  ",), (2,))]),
]


def _problem(name: str, signature: str, doc: str, difficulty: int, solution: str, tests) -> Problem:
    prompt = f'{signature}\n    """{doc}"""\n'
    return Problem(id=f"code:{name}", prompt=prompt, answer=solution, difficulty=int(difficulty),
                   meta={"func": name, "tests": [[list(args), want] for args, want in tests]})


def load_problems(path: str | Path) -> list[Problem]:
    """Problems from a JSONL file (one object a line: name, signature, tests, and optionally doc,
    difficulty, solution); ValueError naming the line and the field for anything malformed."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"code problems file {path} does not exist")
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"code problems file {path}, line {n}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{where}: not JSON ({e.msg})") from None
        if not isinstance(rec, dict):
            raise ValueError(f"{where}: expected an object with name, signature and tests")
        for key in ("name", "signature", "tests"):
            if key not in rec:
                raise ValueError(f"{where}: missing field {key!r} (each line needs name, signature and tests)")
        if not (isinstance(rec["name"], str) and rec["name"].isidentifier()):
            raise ValueError(f"{where}: 'name' must be a Python identifier, got {rec['name']!r}")
        tests = rec["tests"]
        if not (isinstance(tests, list) and tests and all(isinstance(t, list) and len(t) == 2
                                                          and isinstance(t[0], list) for t in tests)):
            raise ValueError(f"{where}: 'tests' must be a non-empty list of [arguments list, expected value]")
        out.append(_problem(rec["name"], rec["signature"], rec.get("doc", ""), rec.get("difficulty", 1),
                            rec.get("solution", ""), [(tuple(a), w) for a, w in tests]))
    if not out:
        raise ValueError(f"code problems file {path} holds no problems")
    return out


class Code:
    """The code task: embedded problems (or those of ``path``), verified in the sandbox."""

    name = "code"
    capabilities = frozenset({"styles", "normalize"})
    styles = ("direct",)
    style_prefix = {"direct": "<answer>"}

    def __init__(self, path: str = "", cpu_s: int = 2, wall_s: float = 5.0, memory_mb: int = 256,
                 max_code_chars: int = MAX_CODE_CHARS):
        if not (isinstance(cpu_s, int) and cpu_s >= 1):
            raise ValueError(f"code cpu_s must be a whole number >= 1, got {cpu_s!r}")
        if not (isinstance(wall_s, (int, float)) and wall_s > 0):
            raise ValueError(f"code wall_s must be > 0, got {wall_s!r}")
        if not (isinstance(memory_mb, int) and memory_mb >= 64):
            raise ValueError(f"code memory_mb must be a whole number >= 64, got {memory_mb!r}")
        self.path = path
        self.limits = SandboxLimits(cpu_s=cpu_s, wall_s=float(wall_s), memory_mb=memory_mb)
        self.max_code_chars = max_code_chars
        self.all = load_problems(path) if path else [_problem(*p) for p in PROBLEMS]

    # ---------------------------------------------------------------- problems
    def problems(self, split: str, n: int, seed: int, difficulty: int | None = None) -> list[Problem]:
        """n distinct problems of ``split`` in an order drawn with ``seed`` (ValueError when the split
        holds fewer)."""
        check_split(split)
        pool = [p for p in self.all if split_of(p.id) == split
                and (difficulty is None or p.difficulty == difficulty)]
        if n > len(pool):
            raise ValueError(f"the code task has {len(pool)} {split} problems"
                             f"{'' if difficulty is None else f' of difficulty {difficulty}'}; asked for {n}")
        random.Random(f"{self.name}:{split}:{seed}:{difficulty}").shuffle(pool)
        return pool[:n]

    def difficulties(self) -> list[int]:
        return sorted({p.difficulty for p in self.all})

    # ---------------------------------------------------------------- verifier
    def verify(self, problem: Problem, completion: str) -> Verdict:
        try:
            code, format_ok, info = extract_code(completion, self.max_code_chars)
            tests = [["call", list(args), want, "same"] for args, want in problem.meta["tests"]]
            if code is None:
                return Verdict(False, None, False, {"passed": 0, "tests": len(tests), "score": 0.0, "reason": info})
            return grade(code, format_ok, problem.meta["func"], tests, "", self.limits)
        except Exception as e:  # a verifier never raises
            return Verdict(False, None, False, {"reason": f"error: {type(e).__name__}", "score": 0.0})

    def normalize(self, parsed: str | None) -> str | None:
        """Canonical form of an answer, for majority voting: the code's syntax tree."""
        return code_key(parsed)

    @staticmethod
    def style_of(completion: str) -> str:
        return "direct" if completion.startswith("<answer>") else "other"
