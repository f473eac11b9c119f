#!/usr/bin/env python3
"""Relevance judgments for the default corpus, derived from a real source: the PostgreSQL
manual's back-of-book index (bookindex.html) maps each index term to the pages that discuss it,
so each term (with its parent term, for sub-entries) is a query and its pages are the relevant
documents. Writes BEIR queries.jsonl and qrels TSV.

usage: pg-manual-qrels.py BOOKINDEX_HTML ARCHIVE_NAME OUT_DIR [MAX_QUERIES]
ARCHIVE_NAME is the corpus archive's file name: document keys are ARCHIVE_NAME!page.html.
Terms pointing at more than 5 pages are left out (too broad to judge), and the queries kept are
spread evenly over the alphabet (every n-th), so the set is deterministic.
"""
import html.parser
import json
import os
import sys


class BookIndex(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.terms = {}        # dl depth -> the last term seen at that depth
        self.dl_depth = 0
        self.in_dt = False
        self.text = ""
        self.pages = []
        self.entries = []      # (query text, pages)

    def handle_starttag(self, tag, attrs):
        if tag == "dl":
            self.dl_depth += 1     # a <dl> inside an entry's <dd> holds its sub-entries
        elif tag == "dt":
            self.in_dt, self.text, self.pages, self.seen_link = True, "", [], False
        elif tag == "a" and self.in_dt:
            href = dict(attrs).get("href", "")
            if href and not href.startswith("#") and ".html" in href:
                self.pages.append(href.split("#", 1)[0])
            self.seen_link = True

    def handle_endtag(self, tag):
        if tag == "dl":
            self.dl_depth -= 1
        elif tag == "dt" and self.in_dt:
            self.in_dt = False
            term = " ".join(self.text.split()).rstrip(",").strip()
            self.terms[self.dl_depth] = term
            parents = [self.terms[d] for d in range(1, self.dl_depth) if self.terms.get(d)]
            if term and self.pages:
                self.entries.append((" ".join(parents + [term]), sorted(set(self.pages))))

    def handle_data(self, data):
        if self.in_dt and not self.seen_link:
            self.text += data


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    src, archive, out = sys.argv[1], sys.argv[2], sys.argv[3]
    max_q = int(sys.argv[4]) if len(sys.argv) > 4 else 600
    p = BookIndex()
    with open(src, encoding="utf-8") as f:
        p.feed(f.read())
    seen, entries = set(), []
    for text, pages in p.entries:
        key = text.lower()
        if key in seen or len(pages) > 5 or len(text) < 3:
            continue
        seen.add(key)
        entries.append((text, pages))
    step = max(1, len(entries) // max_q)
    chosen = entries[::step][:max_q]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "queries.jsonl"), "w", encoding="utf-8") as q, \
         open(os.path.join(out, "qrels.tsv"), "w", encoding="utf-8") as r:
        r.write("query-id\tcorpus-id\tscore\n")
        for i, (text, pages) in enumerate(chosen):
            qid = "q%d" % i
            q.write(json.dumps({"_id": qid, "text": text}) + "\n")
            for page in pages:
                r.write("%s\t%s!%s\t1\n" % (qid, archive, page))
    print("%d queries, %d index entries" % (len(chosen), len(entries)), file=sys.stderr)


if __name__ == "__main__":
    main()
