"""What a binary's code is made of, by crate: a rough `cargo bloat --crates` from `nm`.

  python3 bench/size_by_crate.py BINARY [--top 25]

BINARY must keep its symbols (build with CARGO_PROFILE_RELEASE_STRIP=false). Each function or
object symbol's size goes to the crate its demangled path starts with (`<T as Trait>` goes to
T's crate); C code (ring, libc) shows as its own symbol names. Generic code instantiated in
another crate is counted where its path says, as cargo bloat does; after LTO, inlined code
counts where it was inlined into. Good enough to tell what dominates, not to the byte.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess

STD = {"std", "core", "alloc", "__rustc", "hashbrown", "std_detect", "compiler_builtins", "rustc_demangle",
       "addr2line", "gimli", "miniz_oxide", "object", "panic_abort", "panic_unwind"}


def crate_of(name: str) -> str:
    name = name.strip()
    while name.startswith(("<", "&", "*const ", "*mut ", "dyn ", "(", "[")):
        name = re.sub(r"^(<|&(mut )?|\*const |\*mut |dyn |\(|\[)", "", name)
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", name)
    if match:
        crate = match.group(1)
        return "std" if crate in STD else crate
    if name.startswith(("ring_core_", "GFp", "ring_")) or "ring_core" in name:
        return "ring (C/asm)"
    return "[C or unknown]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    output = subprocess.run(["nm", "-S", "-C", "--size-sort", args.binary], check=True, capture_output=True,
                            text=True).stdout
    sizes: collections.Counter[str] = collections.Counter()
    for line in output.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4 or parts[2].lower() not in ("t", "w", "r", "d", "b", "v"):
            continue
        sizes[crate_of(parts[3])] += int(parts[1], 16)
    total = sum(sizes.values())
    print(f"{args.binary}: {total / 2**20:.2f} MiB in symbols")
    print("| crate | KiB | share |\n|---|---|---|")
    for crate, size in sizes.most_common(args.top):
        print(f"| {crate} | {size / 1024:.0f} | {100 * size / total:.1f} % |")


if __name__ == "__main__":
    main()
