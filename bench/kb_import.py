#!/usr/bin/env python3
"""Knowledge-base loading speed: first start with the bundled corpus, re-import, reindex.

Usage: python bench/kb_import.py [--database-url URL]
Runs in a fresh temporary HOTLINE_HOME (SQLite unless --database-url is given) and prints seconds
and documents per second for: load_bundled_corpus (DB + index), re-import of the unchanged bundle,
and a full reindex from the database.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=None, help="e.g. postgresql+psycopg://postgres@127.0.0.1/bench"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["HOTLINE_HOME"] = home
        if args.database_url:
            os.environ["HOTLINE_DATABASE_URL"] = args.database_url
        from hotline import bootstrap
        from hotline.db import session_scope
        from kb import importer, indexing

        bootstrap.init()
        indexing.get_index()
        files: list[Path] = importer.bundled_files()

        start = time.perf_counter()
        counts = importer.load_bundled_corpus()
        first = time.perf_counter() - start
        n = counts["created"]
        print(f"bundled corpus first load: {n} documents in {first:.1f} s ({n / first:.0f} docs/s)")

        start = time.perf_counter()
        unchanged = 0
        for path in files:
            unchanged += importer.import_file(path, publish=True).unchanged
        again = time.perf_counter() - start
        print(
            f"re-import unchanged:       {unchanged} documents in {again:.1f} s ({unchanged / again:.0f} docs/s)"
        )

        start = time.perf_counter()
        with session_scope() as session:
            indexed = indexing.reindex(session)
        rebuild = time.perf_counter() - start
        print(
            f"reindex from database:     {indexed} documents in {rebuild:.1f} s ({indexed / rebuild:.0f} docs/s)"
        )


if __name__ == "__main__":
    main()
